"""Kong gateway pods as the Kong charts and the Kong Gateway Operator really render them.

Our earlier fixtures described a fictional chart pod (an ``admin`` port on the
pod IP), which hid every problem of issue 13. Each builder here is written from
rendered output, never from memory or from our own code, and says where:

- Kong chart 3.4.1, Kong/charts e76b8003 (``charts/kong``). Snapshots:
  ``charts/kong/ci/__snapshots__/default-values.snap`` (defaults) and
  ``.../test5-values.snap`` (PostgreSQL sub-chart, migration Jobs). Variants
  without a snapshot were rendered with ``helm template`` (helm 4.1.4) from
  the chart at that commit with the chart's own example values, the
  PostgreSQL sub-chart stubbed (the kong templates read only values; the
  stubbed render of ``ci/test5-values.yaml`` reproduces the snapshot's
  Deployment and Job pod templates exactly):
  ``example-values/minimal-kong-enterprise-dbless.yaml`` (Enterprise),
  ``example-values/minimal-kong-enterprise-hybrid-control.yaml`` and
  ``-hybrid-data.yaml`` (hybrid), and ``postgresql.enabled: true``,
  ``env.database: postgres`` for the chart with its datastore.
- kong/ingress chart 0.24.0, Kong/charts e76b8003:
  ``charts/ingress/ci/__snapshots__/gateway-discovery-values.snap``.
- Kong Gateway Operator DataPlane, Kong/kong-operator cefc38421:
  ``pkg/utils/kubernetes/resources/deployments.go``
  (``GenerateNewDeploymentForDataPlane``, ``GenerateDataPlaneContainer``,
  ``GenerateDataPlaneReadinessProbe``), ``internal/utils/config/dataplane.go``
  (``KongDefaults``; ``kongInKonnectClusterTypeControlPlane`` for Konnect),
  ``controller/dataplane/owned_deployment.go`` (``setClusterCertVars``),
  ``controller/dataplane/controller.go`` (the ``selector`` label),
  ``pkg/consts/dataplane.go`` and ``pkg/consts/consts.go``.

What a builder adds that no chart renders is what Kubernetes adds: the
ReplicaSet or Job owner reference, ``pod-template-hash`` or the Job
controller's labels, API-server defaults and a kubelet-reported status (the
``kubernetes`` client's pydantic models require parts of it). What it leaves
out is what nothing here reads: volumes, volume mounts, init containers.
Names, uids and hashes are derived from the arguments, so a fixture is the
same on every run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from license_report_sandbox.kubeapi.resources import Body

#: The Kong chart's default image (``image.repository:tag``, appVersion 3.9).
OSS_IMAGE = "kong:3.9"
#: An Enterprise image as the chart's Enterprise examples set it (``kong/kong-gateway``).
ENTERPRISE_IMAGE = "kong/kong-gateway:3.4.3.12"
#: The Kong Gateway Operator's default DataPlane image (``consts.DefaultDataPlaneImage``).
OPERATOR_IMAGE = "kong/kong-gateway:3.15"
#: The license Secret name the chart's examples use (``enterprise.license_secret``).
LICENSE_SECRET = "kong-enterprise-license"  # noqa: S105 -- a Secret's name

CHART = "kong-3.4.1"
INGRESS_CONTROLLER_IMAGE = "kong/kubernetes-ingress-controller:3.5"
_CREATED = "2026-01-01T00:00:00Z"
_STARTED = "2026-01-01T00:00:05Z"
_FINISHED = "2026-01-01T00:00:40Z"

# --- Kubernetes' share: names, owners, status --------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _uid(*parts: str) -> str:
    return str(uuid.UUID(_digest(*parts)[:32]))


def _suffix(*parts: str, length: int) -> str:
    """Like the random suffixes Kubernetes appends (consonants and digits), but stable."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(_digest(*parts), 16)
    return "".join(alphabet[(number >> (5 * i)) % len(alphabet)] for i in range(length))


def _owner(*, kind: str, api_version: str, name: str, namespace: str) -> Body:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": _uid(kind, namespace, name),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _defaulted(container: Body) -> Body:
    """A container as the API server stores it: its defaults filled in."""
    return {
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        **container,
    }


def _container_status(
    container: Body, *, pod: str, running: bool, ready: bool, completed: bool, restarts: int
) -> Body:
    image = str(container["image"])
    state: Body
    if completed:
        state = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": _STARTED,
                "finishedAt": _FINISHED,
                "containerID": f"containerd://{_digest(pod, str(container['name']))}",
            }
        }
    elif running:
        state = {"running": {"startedAt": _STARTED}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    return {
        "name": container["name"],
        "image": f"docker.io/library/{image}" if "/" not in image else f"docker.io/{image}",
        "imageID": f"docker.io/{image.split(':')[0]}@sha256:{_digest(image)}",
        "containerID": f"containerd://{_digest(pod, str(container['name']))}",
        "ready": ready and running and not completed,
        "started": running and not completed,
        "restartCount": restarts,
        "state": state,
    }


def _pod(
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner: Body,
    containers: Sequence[Body],
    restart_policy: str,
    service_account: str,
    ip: str | None,
    node_name: str,
    phase: str = "Running",
    ready: bool = True,
    restarts: int = 0,
    termination_grace: int = 30,
) -> Body:
    """A scheduled pod as the API server returns it, status as the kubelet reports it."""
    running = phase == "Running"
    completed = phase == "Succeeded"
    is_ready = ready and running
    conditions = [
        ("PodReadyToStartContainers", running, None),
        ("Initialized", True, "PodCompleted" if completed else None),
        ("Ready", is_ready, "PodCompleted" if completed else None),
        ("ContainersReady", is_ready, "PodCompleted" if completed else None),
        ("PodScheduled", True, None),
    ]
    status: Body = {
        "phase": phase,
        "qosClass": "BestEffort",
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "startTime": _CREATED,
        "conditions": [
            {
                "type": kind,
                "status": "True" if ok else "False",
                "lastTransitionTime": _CREATED,
                **({"reason": reason} if reason else {}),
            }
            for kind, ok, reason in conditions
        ],
        "containerStatuses": [
            _container_status(
                c, pod=name, running=running, ready=ready, completed=completed, restarts=restarts
            )
            for c in containers
        ],
    }
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": _uid("Pod", namespace, name),
            "creationTimestamp": _CREATED,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [owner],
        },
        "spec": {
            "containers": [_defaulted(c) for c in containers],
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": termination_grace,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": service_account,
            "serviceAccount": service_account,
            "schedulerName": "default-scheduler",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "nodeName": node_name,
        },
        "status": status,
    }


def _deployment_pods(
    *,
    deployment: str,
    namespace: str,
    labels: Mapping[str, str],
    pod_ips: Sequence[str],
    node_name: str,
    **pod: Any,
) -> list[Body]:
    """One pod per IP, owned by the Deployment's current ReplicaSet and named as it names them."""
    template_hash = _suffix("rs", namespace, deployment, length=10)
    replica_set = f"{deployment}-{template_hash}"
    owner = _owner(kind="ReplicaSet", api_version="apps/v1", name=replica_set, namespace=namespace)
    return [
        _pod(
            name=f"{replica_set}-{_suffix('pod', namespace, replica_set, ip, length=5)}",
            namespace=namespace,
            labels={**labels, "pod-template-hash": template_hash},
            owner=owner,
            restart_policy="Always",
            ip=ip,
            node_name=node_name,
            **pod,
        )
        for ip in pod_ips
    ]


def _job_pod(
    *,
    job: str,
    namespace: str,
    labels: Mapping[str, str],
    ip: str | None,
    node_name: str,
    **pod: Any,
) -> Body:
    """A completed Job pod; the Job controller adds its four labels and the owner."""
    owner = _owner(kind="Job", api_version="batch/v1", name=job, namespace=namespace)
    job_labels = {
        "batch.kubernetes.io/controller-uid": owner["uid"],
        "batch.kubernetes.io/job-name": job,
        "controller-uid": owner["uid"],
        "job-name": job,
    }
    return _pod(
        name=f"{job}-{_suffix('job', namespace, job, length=5)}",
        namespace=namespace,
        labels={**labels, **job_labels},
        owner=owner,
        restart_policy="OnFailure",
        phase="Succeeded",
        ready=False,
        ip=ip,
        node_name=node_name,
        **pod,
    )


# --- the Kong chart (charts/kong 3.4.1) --------------------------------------------------------

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


def _http_probe(path: str, port: int | str, *, initial: int = 5, timeout: int = 5) -> Body:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": timeout,
    }


def _port(name: str, number: int) -> Body:
    return {"name": name, "containerPort": number, "protocol": "TCP"}


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


def _kong_env(
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


def _tag_version(image: str) -> str:
    """``app.kubernetes.io/version``: major.minor of the image tag (``kong.metaLabels``)."""
    major, minor, *_ = image.rsplit(":", 1)[1].split(".")
    return f"{major}.{minor}"


def _chart_labels(*, release: str, image: str, component: str) -> dict[str, str]:
    version = _tag_version(image)
    return {
        "app.kubernetes.io/name": "kong",
        "helm.sh/chart": CHART,
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/component": component,
    }


def _ingress_controller(*, release: str, namespace: str) -> Body:
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
        "ports": [_port("webhook", 8080), _port("cmetrics", 10255), _port("cstatus", 10254)],
        "readinessProbe": _http_probe("/readyz", 10254),
        "livenessProbe": _http_probe("/healthz", 10254),
        "resources": {},
        "securityContext": _SECURITY_CONTEXT,
    }


def _proxy_container(*, image: str, env: Mapping[str, str | Body], ports: Sequence[Body]) -> Body:
    return {
        "name": "proxy",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(env),
        "lifecycle": {"preStop": {"exec": {"command": ["kong", "quit", "--wait=15"]}}},
        "ports": list(ports),
        "readinessProbe": _http_probe("/status/ready", "status"),
        "livenessProbe": _http_probe("/status", "status"),
        "resources": {},
        "securityContext": _SECURITY_CONTEXT,
    }


_PROXY_PORTS = (_port("proxy", 8000), _port("proxy-tls", 8443), _port("status", 8100))


def _kong_release(
    *,
    release: str,
    namespace: str,
    pod_ips: Sequence[str],
    image: str,
    env: Mapping[str, str | Body],
    ports: Sequence[Body],
    ingress_controller: bool,
    migrations: bool,
    migration_ip: str | None,
    node_name: str,
) -> list[Body]:
    """A Kong chart release: gateway pods and, with a database, the init-migrations pod."""
    fullname = f"{release}-kong"
    labels = {
        **_chart_labels(release=release, image=image, component="app"),
        "app": fullname,
        "version": _tag_version(image),
    }
    containers = [_proxy_container(image=image, env=env, ports=ports)]
    if ingress_controller:
        containers.insert(0, _ingress_controller(release=release, namespace=namespace))
    pods = _deployment_pods(
        deployment=fullname,
        namespace=namespace,
        labels=labels,
        annotations={
            "kuma.io/gateway": "enabled",
            "kuma.io/service-account-token-volume": f"{fullname}-token",
            "traffic.sidecar.istio.io/includeInboundPorts": "",
        },
        pod_ips=pod_ips,
        node_name=node_name,
        containers=containers,
        service_account=fullname,
    )
    if migrations:
        migration = {
            "name": "kong-migrations",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "args": ["kong", "migrations", "bootstrap"],
            "env": _env(env),
            "resources": {},
            "securityContext": _SECURITY_CONTEXT,
        }
        pods.append(
            _job_pod(
                job=f"{fullname}-init-migrations",
                namespace=namespace,
                labels=_chart_labels(release=release, image=image, component="init-migrations"),
                annotations={
                    "kuma.io/service-account-token-volume": f"{fullname}-token",
                    "sidecar.istio.io/inject": "false",
                },
                ip=migration_ip,
                node_name=node_name,
                containers=[migration],
                service_account=fullname,
            )
        )
    return pods


def chart_default(
    *,
    release: str = "kong",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    image: str = OSS_IMAGE,
    license_secret: str | None = None,
    node_name: str = "node-1",
) -> list[Body]:
    """Kong chart defaults: ingress controller + DB-less, the Admin API on loopback only.

    ``license_secret`` turns on the Enterprise variant
    (``minimal-kong-enterprise-dbless.yaml``: ``enterprise.enabled``,
    ``KONG_LICENSE_DATA`` from that Secret's ``license`` key); pass an
    Enterprise ``image`` with it.
    """
    env = _kong_env(
        release=release,
        database="off",
        admin_listen=LOOPBACK_ADMIN_LISTEN,
        ingress_controller=True,
        proxy=True,
        license_secret=license_secret,
    )
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        env=env,
        ports=_PROXY_PORTS,
        ingress_controller=True,
        migrations=False,
        migration_ip=None,
        node_name=node_name,
    )


def chart_postgres(
    *,
    release: str = "kong",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    migration_ip: str | None = None,
    image: str = OSS_IMAGE,
    license_secret: str | None = None,
    node_name: str = "node-1",
) -> list[Body]:
    """The Kong chart with its PostgreSQL sub-chart: gateway pods, then the init-migrations pod.

    ``KONG_PG_HOST`` is the short Service name ``<release>-postgresql`` and
    ``KONG_PG_PASSWORD`` comes from Secret ``<release>-postgresql`` key
    ``password`` (test5-values.snap). The migration pod is the last item.
    """
    env = _kong_env(
        release=release,
        database="postgres",
        admin_listen=LOOPBACK_ADMIN_LISTEN,
        ingress_controller=True,
        proxy=True,
        license_secret=license_secret,
    )
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        env=env,
        ports=_PROXY_PORTS,
        ingress_controller=True,
        migrations=True,
        migration_ip=migration_ip,
        node_name=node_name,
    )


def hybrid_control_plane(
    *,
    release: str = "cp",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    migration_ip: str | None = None,
    image: str = ENTERPRISE_IMAGE,
    license_secret: str = LICENSE_SECRET,
    node_name: str = "node-1",
) -> list[Body]:
    """A hybrid control plane release (minimal-kong-enterprise-hybrid-control.yaml).

    ``KONG_ROLE=control_plane``, PostgreSQL, the Admin API on ``0.0.0.0``
    (ports ``admin`` 8001 and ``admin-tls`` 8444), no proxy; the init-migrations
    pod is the last item.
    """
    env = _kong_env(
        release=release,
        database="postgres",
        admin_listen=CLUSTER_ADMIN_LISTEN,
        ingress_controller=False,
        proxy=False,
        license_secret=license_secret,
        extra={
            "KONG_ROLE": "control_plane",
            "KONG_CLUSTER_CERT": "/etc/secrets/kong-cluster-cert/tls.crt",
            "KONG_CLUSTER_CERT_KEY": "/etc/secrets/kong-cluster-cert/tls.key",
            "KONG_CLUSTER_LISTEN": "0.0.0.0:8005 ssl, [::]:8005 ssl",
            "KONG_CLUSTER_TELEMETRY_LISTEN": "0.0.0.0:8006 ssl, [::]:8006 ssl",
        },
    )
    ports = (
        _port("admin", 8001),
        _port("admin-tls", 8444),
        _port("status", 8100),
        _port("cluster-tls", 8005),
        _port("manager", 8002),
        _port("manager-tls", 8445),
        _port("clustert-tls", 8006),
    )
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        env=env,
        ports=ports,
        ingress_controller=False,
        migrations=True,
        migration_ip=migration_ip,
        node_name=node_name,
    )


def hybrid_data_plane(
    *,
    release: str = "dp",
    namespace: str = "kong-dp",
    pod_ips: Sequence[str],
    control_plane_release: str = "cp",
    control_plane_namespace: str = "kong",
    image: str = ENTERPRISE_IMAGE,
    license_secret: str = LICENSE_SECRET,
    node_name: str = "node-1",
) -> list[Body]:
    """A hybrid data plane release (minimal-kong-enterprise-hybrid-data.yaml).

    ``KONG_ROLE=data_plane``, ``KONG_DATABASE=off``, loopback
    ``admin_listen`` (Kong serves no Admin API on a data plane anyway). The
    example's ``CHANGEME`` endpoints are filled with the control plane
    release's ``<cp>-kong-cluster`` and ``<cp>-kong-clustertelemetry``
    Services, as the control plane render names them.
    """
    services = f"{control_plane_namespace}.svc.cluster.local"
    env = _kong_env(
        release=release,
        database="off",
        admin_listen=LOOPBACK_ADMIN_LISTEN,
        ingress_controller=False,
        proxy=True,
        license_secret=license_secret,
        extra={
            "KONG_ROLE": "data_plane",
            "KONG_CLUSTER_CERT": "/etc/secrets/kong-cluster-cert/tls.crt",
            "KONG_CLUSTER_CERT_KEY": "/etc/secrets/kong-cluster-cert/tls.key",
            "KONG_CLUSTER_CONTROL_PLANE": f"{control_plane_release}-kong-cluster.{services}:8005",
            "KONG_CLUSTER_TELEMETRY_ENDPOINT": (
                f"{control_plane_release}-kong-clustertelemetry.{services}:8006"
            ),
            "KONG_LUA_SSL_TRUSTED_CERTIFICATE": "/etc/secrets/kong-cluster-cert/tls.crt",
        },
    )
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        env=env,
        ports=_PROXY_PORTS,
        ingress_controller=False,
        migrations=False,
        migration_ip=None,
        node_name=node_name,
    )


# --- the kong/ingress chart (charts/ingress 0.24.0, gateway-discovery-values.snap) -------------


def ingress_chart(
    *,
    release: str = "kong",
    namespace: str = "kong",
    gateway_ips: Sequence[str],
    controller_ips: Sequence[str],
    image: str = OSS_IMAGE,
    node_name: str = "node-1",
) -> list[Body]:
    """The kong/ingress chart: pods ``name: gateway``, then pods ``name: controller``.

    Exactly the snapshot's values (gateway-discovery-values.yaml), which include
    ``anonymous_reports`` off and the controller's Admin API client certificate;
    the gateway does not ask for that certificate. Gateways first, controllers last.
    """
    version = "3.9"

    def labels(component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": component,
            "helm.sh/chart": f"{component}-3.2.0",
            "app.kubernetes.io/instance": release,
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/version": version,
            "app.kubernetes.io/component": "app",
            "app": f"{release}-{component}",
            "version": version,
        }

    gateway_env = _kong_env(
        release=release,
        database="off",
        admin_listen="0.0.0.0:8444 http2 ssl, [::]:8444 http2 ssl",
        ingress_controller=False,
        proxy=True,
        license_secret=None,
        extra={"KONG_ANONYMOUS_REPORTS": "off", "KONG_ROLE": "traditional"},
    )
    gateway = _proxy_container(
        image=image,
        env=gateway_env,
        ports=(_port("admin-tls", 8444), *_PROXY_PORTS),
    )
    controller = _ingress_controller(release=release, namespace=namespace)
    controller["env"] = [
        *controller["env"][:3],
        {"name": "CONTROLLER_ANONYMOUS_REPORTS", "value": "false"},
        {"name": "CONTROLLER_ELECTION_ID", "value": "kong-ingress-controller-leader-kong"},
        {"name": "CONTROLLER_INGRESS_CLASS", "value": "kong"},
        {"name": "CONTROLLER_KONG_ADMIN_SVC", "value": f"{namespace}/{release}-gateway-admin"},
        {
            "name": "CONTROLLER_KONG_ADMIN_TLS_CLIENT_CERT_FILE",
            "value": "/etc/secrets/admin-api-cert/tls.crt",
        },
        {
            "name": "CONTROLLER_KONG_ADMIN_TLS_CLIENT_KEY_FILE",
            "value": "/etc/secrets/admin-api-cert/tls.key",
        },
        {"name": "CONTROLLER_KONG_ADMIN_TLS_SKIP_VERIFY", "value": "true"},
        {"name": "CONTROLLER_PUBLISH_SERVICE", "value": f"{namespace}/{release}-gateway-proxy"},
    ]
    controller["readinessProbe"] = {
        **_http_probe("/readyz", 10254, initial=1),
        "periodSeconds": 1,
    }
    gateway_annotations = {
        "kuma.io/service-account-token-volume": f"{release}-gateway-token",
        "kuma.io/gateway": "enabled",
        "traffic.sidecar.istio.io/includeInboundPorts": "",
    }
    controller_annotations = {
        "kuma.io/service-account-token-volume": f"{release}-controller-token",
        "kuma.io/gateway": "enabled",
        "traffic.kuma.io/exclude-outbound-ports": "8444",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "8444",
        "traffic.sidecar.istio.io/includeInboundPorts": "",
    }
    return [
        *_deployment_pods(
            deployment=f"{release}-gateway",
            namespace=namespace,
            labels=labels("gateway"),
            annotations=gateway_annotations,
            pod_ips=gateway_ips,
            node_name=node_name,
            containers=[gateway],
            service_account=f"{release}-gateway",
        ),
        *_deployment_pods(
            deployment=f"{release}-controller",
            namespace=namespace,
            labels=labels("controller"),
            annotations=controller_annotations,
            pod_ips=controller_ips,
            node_name=node_name,
            containers=[controller],
            service_account=f"{release}-controller",
        ),
    ]


# --- the Kong Gateway Operator's DataPlane (Kong/kong-operator cefc38421) ----------------------

#: ``config.KongDefaults`` (internal/utils/config/dataplane.go).
OPERATOR_DEFAULTS: Mapping[str, str] = {
    "KONG_ADMIN_ACCESS_LOG": "/dev/stdout",
    "KONG_ADMIN_ERROR_LOG": "/dev/stderr",
    "KONG_ADMIN_GUI_ACCESS_LOG": "/dev/stdout",
    "KONG_ADMIN_GUI_ERROR_LOG": "/dev/stderr",
    "KONG_CLUSTER_LISTEN": "off",
    "KONG_DATABASE": "off",
    "KONG_NGINX_WORKER_PROCESSES": "2",
    "KONG_PLUGINS": "bundled",
    "KONG_PORTAL_API_ACCESS_LOG": "/dev/stdout",
    "KONG_PORTAL_API_ERROR_LOG": "/dev/stderr",
    "KONG_PORT_MAPS": "80:8000, 443:8443",
    "KONG_PROXY_ACCESS_LOG": "/dev/stdout",
    "KONG_PROXY_ERROR_LOG": "/dev/stderr",
    "KONG_PROXY_LISTEN": (
        "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384"
    ),
    "KONG_STATUS_LISTEN": "0.0.0.0:8100",
    "KONG_ADMIN_LISTEN": "0.0.0.0:8444 ssl reuseport backlog=16384",
    "KONG_ADMIN_SSL_CERT": "/var/cluster-certificate/tls.crt",
    "KONG_ADMIN_SSL_CERT_KEY": "/var/cluster-certificate/tls.key",
    "KONG_NGINX_ADMIN_SSL_CLIENT_CERTIFICATE": "/var/cluster-certificate/ca.crt",
    "KONG_NGINX_ADMIN_SSL_VERIFY_CLIENT": "on",
    "KONG_NGINX_ADMIN_SSL_VERIFY_DEPTH": "3",
}


def gateway_operator(
    *,
    dataplane: str = "dataplane-example",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    selector: str | None = None,
    image: str = OPERATOR_IMAGE,
    node_name: str = "node-1",
    konnect: Mapping[str, str] | None = None,
) -> list[Body]:
    """Kong Gateway Operator ``DataPlane`` pods: labels ``app`` and the operator's selector only.

    The Admin API listens on ``0.0.0.0:8444`` and requires a client
    certificate signed by the operator's CA. ``selector`` is the DataPlane's
    ``status.selector`` (a uuid). ``konnect`` adds env over the defaults, as
    a Konnect extension does (see `konnect_data_plane`). The operator builds
    env from Go maps; the order it ends up in is not confirmed, so it is
    sorted here (the cluster certificate first, as ``setClusterCertVars`` adds it).
    """
    selector = selector or _uid("DataPlane", namespace, dataplane)
    env: list[Body] = [
        {"name": "KONG_CLUSTER_CERT", "value": "/var/cluster-certificate/tls.crt"},
        {"name": "KONG_CLUSTER_CERT_KEY", "value": "/var/cluster-certificate/tls.key"},
    ]
    defaults = {**OPERATOR_DEFAULTS, **(konnect or {})}
    env += [
        {"name": key, "value": value}
        for key, value in sorted(defaults.items())
        if key not in ("KONG_CLUSTER_CERT", "KONG_CLUSTER_CERT_KEY")
    ]
    container: Body = {
        "name": "proxy",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "kong quit"]}}},
        "ports": [
            _port("proxy", 8000),
            _port("proxy-ssl", 8443),
            _port("metrics", 8100),
            _port("admin-ssl", 8444),
        ],
        "readinessProbe": _http_probe("/status", 8100, timeout=1),
        "resources": {
            "requests": {"cpu": "100m", "memory": "20Mi"},
            "limits": {"cpu": "2000m", "memory": "2000Mi"},
        },
    }
    deployment = f"dataplane-{dataplane}-{_suffix('dp', namespace, dataplane, length=5)}"
    pods = _deployment_pods(
        deployment=deployment,
        namespace=namespace,
        labels={"app": dataplane, "gateway-operator.konghq.com/selector": selector},
        annotations={},
        pod_ips=pod_ips,
        node_name=node_name,
        containers=[container],
        service_account="default",
    )
    for pod in pods:
        pod["spec"]["securityContext"] = {}
        pod["status"]["qosClass"] = "Burstable"
    return pods


def konnect_data_plane(
    *,
    dataplane: str = "konnect-dp",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    control_plane_endpoint: str = "1a2b3c4d5e.us.cp0.konghq.com",
    telemetry_endpoint: str = "1a2b3c4d5e.us.tp0.konghq.com",
    image: str = OPERATOR_IMAGE,
    node_name: str = "node-1",
) -> list[Body]:
    """A Konnect data plane: ``KONG_ROLE=data_plane``, ``KONG_KONNECT_MODE=on``.

    The env is ``kongInKonnectClusterTypeControlPlane`` with its endpoint
    placeholders filled (``KongInKonnectDefaults``); its usage lives in Konnect.
    """
    konnect = {
        "KONG_ROLE": "data_plane",
        "KONG_CLUSTER_MTLS": "pki",
        "KONG_CLUSTER_CONTROL_PLANE": f"{control_plane_endpoint}:443",
        "KONG_CLUSTER_SERVER_NAME": control_plane_endpoint,
        "KONG_CLUSTER_TELEMETRY_ENDPOINT": f"{telemetry_endpoint}:443",
        "KONG_CLUSTER_TELEMETRY_SERVER_NAME": telemetry_endpoint,
        "KONG_INCREMENTAL_SYNC": "on",
        "KONG_LUA_SSL_TRUSTED_CERTIFICATE": "system",
        "KONG_KONNECT_MODE": "on",
        "KONG_VITALS": "off",
    }
    return gateway_operator(
        dataplane=dataplane,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        node_name=node_name,
        konnect=konnect,
    )
