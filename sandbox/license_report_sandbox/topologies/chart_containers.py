"""The Kong chart's containers (``proxy``, ``ingress-controller``, ``kong-migrations``), their env.

Written from Kong chart 3.4.1, Kong/charts e76b8003 (``charts/kong``):
``charts/kong/ci/__snapshots__/default-values.snap`` (defaults),
``.../test5-values.snap`` (PostgreSQL, the migration Job), and ``helm
template`` renders with ``example-values/minimal-kong-enterprise-dbless.yaml``
(Enterprise env) and the hybrid examples (see `kong_chart`). The kong/ingress
chart renders the same templates as its ``gateway`` and ``controller``
sub-charts, so `kong_ingress` builds on these too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from license_report_sandbox.kubeapi.resources import Body
from license_report_sandbox.topologies import pods

#: The Kong chart's default image (``image.repository:tag``, appVersion 3.9).
OSS_IMAGE = "kong:3.9"
INGRESS_CONTROLLER_IMAGE = "kong/kubernetes-ingress-controller:3.5"

#: Listen values exactly as the chart renders them (``kong.listen`` helper).
LOOPBACK_ADMIN_LISTEN = "127.0.0.1:8444 http2 ssl, [::1]:8444 http2 ssl"
CLUSTER_ADMIN_LISTEN = "0.0.0.0:8001, [::]:8001, 0.0.0.0:8444 http2 ssl, [::]:8444 http2 ssl"
STATUS_LISTEN = "0.0.0.0:8100, [::]:8100"
PROXY_LISTEN = "0.0.0.0:8000, [::]:8000, 0.0.0.0:8443 http2 ssl, [::]:8443 http2 ssl"

_SECURITY_CONTEXT: Body = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsGroup": 1000,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def secret_ref(name: str, key: str) -> Body:
    """``valueFrom.secretKeyRef`` as the chart writes it."""
    return {"secretKeyRef": {"name": name, "key": key}}


def _env(values: Mapping[str, str | Body]) -> list[Body]:
    """The chart's env: every ``KONG_*`` sorted by name, then ``KONG_NGINX_DAEMON`` last."""
    env: list[Body] = [
        {"name": key, "value": value}
        if isinstance(value, str)
        else {"name": key, "valueFrom": value}
        for key, value in sorted(values.items())
    ]
    env.append({"name": "KONG_NGINX_DAEMON", "value": "off"})
    return env


def kong_env(
    *,
    release: str,
    database: str,
    admin_listen: str,
    ingress_controller: bool,
    proxy: bool,
    license_secret: str | None,
    extra: Mapping[str, str | Body] = {},
) -> dict[str, str | Body]:
    """The Kong chart's gateway env for the values a topology sets (sorted later)."""
    env: dict[str, str | Body] = {
        "KONG_ADMIN_ACCESS_LOG": "/dev/stdout",
        "KONG_ADMIN_ERROR_LOG": "/dev/stderr",
        "KONG_ADMIN_GUI_ACCESS_LOG": "/dev/stdout",
        "KONG_ADMIN_GUI_ERROR_LOG": "/dev/stderr",
        "KONG_ADMIN_LISTEN": admin_listen,
        "KONG_CLUSTER_LISTEN": "off",
        "KONG_DATABASE": database,
        "KONG_LUA_PACKAGE_PATH": "/opt/?.lua;/opt/?/init.lua;;",
        "KONG_NGINX_WORKER_PROCESSES": "2",
        "KONG_PORTAL_API_ACCESS_LOG": "/dev/stdout",
        "KONG_PORTAL_API_ERROR_LOG": "/dev/stderr",
        "KONG_PREFIX": "/kong_prefix/",
        "KONG_PROXY_ACCESS_LOG": "/dev/stdout",
        "KONG_PROXY_ERROR_LOG": "/dev/stderr",
        "KONG_PROXY_LISTEN": PROXY_LISTEN,
        "KONG_PROXY_STREAM_ACCESS_LOG": "/dev/stdout basic",
        "KONG_PROXY_STREAM_ERROR_LOG": "/dev/stderr",
        "KONG_ROUTER_FLAVOR": "traditional",
        "KONG_STATUS_ACCESS_LOG": "off",
        "KONG_STATUS_ERROR_LOG": "/dev/stderr",
        "KONG_STATUS_LISTEN": STATUS_LISTEN,
        "KONG_STREAM_LISTEN": "off",
    }
    if proxy:
        # ``KONG_PORT_MAPS`` follows the proxy Service; the hybrid control plane disables it.
        env["KONG_PORT_MAPS"] = "80:8000, 443:8443"
    if ingress_controller:
        env["KONG_KIC"] = "on"
    if database == "postgres":
        env["KONG_PG_HOST"] = f"{release}-postgresql"
        env["KONG_PG_PASSWORD"] = secret_ref(f"{release}-postgresql", "password")
        env["KONG_PG_PORT"] = "5432"
    if license_secret is not None:
        # ``enterprise.enabled`` with the examples' ``vitals.enabled: false``.
        env["KONG_ADMIN_GUI_LISTEN"] = (
            "0.0.0.0:8002, [::]:8002, 0.0.0.0:8445 http2 ssl, [::]:8445 http2 ssl"
        )
        env["KONG_CLUSTER_TELEMETRY_LISTEN"] = "off"
        env["KONG_LICENSE_DATA"] = secret_ref(license_secret, "license")
        env["KONG_PORTAL_GUI_ACCESS_LOG"] = "/dev/stdout"
        env["KONG_PORTAL_GUI_ERROR_LOG"] = "/dev/stderr"
        env["KONG_SMTP_MOCK"] = "on"
        env["KONG_VITALS"] = "off"
    env.update(extra)
    return env


def ingress_controller(*, release: str, namespace: str) -> Body:
    """The ``ingress-controller`` container next to ``proxy`` (kong chart defaults)."""
    return {
        "name": "ingress-controller",
        "image": INGRESS_CONTROLLER_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {
                "name": "POD_NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            },
            {"name": "CONTROLLER_ADMISSION_WEBHOOK_LISTEN", "value": "0.0.0.0:8080"},
            {"name": "CONTROLLER_ELECTION_ID", "value": "kong-ingress-controller-leader-kong"},
            {"name": "CONTROLLER_INGRESS_CLASS", "value": "kong"},
            {"name": "CONTROLLER_KONG_ADMIN_TLS_SKIP_VERIFY", "value": "true"},
            {"name": "CONTROLLER_KONG_ADMIN_URL", "value": "https://localhost:8444"},
            {"name": "CONTROLLER_PUBLISH_SERVICE", "value": f"{namespace}/{release}-kong-proxy"},
        ],
        "ports": [
            pods.port("webhook", 8080),
            pods.port("cmetrics", 10255),
            pods.port("cstatus", 10254),
        ],
        "readinessProbe": pods.http_probe("/readyz", 10254),
        "livenessProbe": pods.http_probe("/healthz", 10254),
        "resources": {},
        "securityContext": _SECURITY_CONTEXT,
    }


def proxy_container(*, image: str, env: Mapping[str, str | Body], ports: Sequence[Body]) -> Body:
    return {
        "name": "proxy",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(env),
        "lifecycle": {"preStop": {"exec": {"command": ["kong", "quit", "--wait=15"]}}},
        "ports": list(ports),
        "readinessProbe": pods.http_probe("/status/ready", "status"),
        "livenessProbe": pods.http_probe("/status", "status"),
        "resources": {},
        "securityContext": _SECURITY_CONTEXT,
    }


PROXY_PORTS = (pods.port("proxy", 8000), pods.port("proxy-tls", 8443), pods.port("status", 8100))


def migration_container(*, image: str, env: Mapping[str, str | Body]) -> Body:
    """The init-migrations Job's container: ``kong migrations bootstrap`` with the gateway's env."""
    return {
        "name": "kong-migrations",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["kong", "migrations", "bootstrap"],
        "env": _env(env),
        "resources": {},
        "securityContext": _SECURITY_CONTEXT,
    }
