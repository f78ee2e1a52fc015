"""The Kong Gateway Operator's ``DataPlane`` pods, self-managed or as a Konnect data plane.

Kong Gateway Operator DataPlane, Kong/kong-operator cefc38421:
``pkg/utils/kubernetes/resources/deployments.go``
(``GenerateNewDeploymentForDataPlane``, ``GenerateDataPlaneContainer``,
``GenerateDataPlaneReadinessProbe``), ``internal/utils/config/dataplane.go``
(``KongDefaults``; ``kongInKonnectClusterTypeControlPlane`` for Konnect),
``controller/dataplane/owned_deployment.go`` (``setClusterCertVars``),
``controller/dataplane/controller.go`` (the ``selector`` label),
``pkg/consts/dataplane.go`` and ``pkg/consts/consts.go``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from license_report_sandbox.kubeapi.resources import Body
from license_report_sandbox.topologies import pods

#: The Kong Gateway Operator's default DataPlane image (``consts.DefaultDataPlaneImage``).
OPERATOR_IMAGE = "kong/kong-gateway:3.15"

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
    selector = selector or pods.uid("DataPlane", namespace, dataplane)
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
            pods.port("proxy", 8000),
            pods.port("proxy-ssl", 8443),
            pods.port("metrics", 8100),
            pods.port("admin-ssl", 8444),
        ],
        "readinessProbe": pods.http_probe("/status", 8100, timeout=1),
        "resources": {
            "requests": {"cpu": "100m", "memory": "20Mi"},
            "limits": {"cpu": "2000m", "memory": "2000Mi"},
        },
    }
    deployment = f"dataplane-{dataplane}-{pods.suffix('dp', namespace, dataplane, length=5)}"
    dataplane_pods = pods.deployment_pods(
        deployment=deployment,
        namespace=namespace,
        labels={"app": dataplane, "gateway-operator.konghq.com/selector": selector},
        annotations={},
        pod_ips=pod_ips,
        node_name=node_name,
        containers=[container],
        service_account="default",
    )
    for pod in dataplane_pods:
        pod["spec"]["securityContext"] = {}
        pod["status"]["qosClass"] = "Burstable"
    return dataplane_pods


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
