"""The kong/ingress chart: separate gateway and controller Deployments, gateway discovery.

kong/ingress chart 0.24.0, Kong/charts e76b8003:
``charts/ingress/ci/__snapshots__/gateway-discovery-values.snap`` (values
``charts/ingress/ci/gateway-discovery-values.yaml``, kept as rendered). The
chart wraps kong chart 3.2.0 twice, as ``gateway`` and ``controller``, so its
containers are the kong chart's (`chart_containers`) with the snapshot's env.
"""

from __future__ import annotations

from collections.abc import Sequence

from license_report_sandbox.kubeapi.resources import Body
from license_report_sandbox.topologies import chart_containers, pods


def ingress_chart(
    *,
    release: str = "kong",
    namespace: str = "kong",
    gateway_ips: Sequence[str],
    controller_ips: Sequence[str],
    image: str = chart_containers.OSS_IMAGE,
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

    gateway_env = chart_containers.kong_env(
        release=release,
        database="off",
        admin_listen="0.0.0.0:8444 http2 ssl, [::]:8444 http2 ssl",
        ingress_controller=False,
        proxy=True,
        license_secret=None,
        extra={"KONG_ANONYMOUS_REPORTS": "off", "KONG_ROLE": "traditional"},
    )
    gateway = chart_containers.proxy_container(
        image=image,
        env=gateway_env,
        ports=(pods.port("admin-tls", 8444), *chart_containers.PROXY_PORTS),
    )
    controller = chart_containers.ingress_controller(release=release, namespace=namespace)
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
        **pods.http_probe("/readyz", 10254, initial=1),
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
        *pods.deployment_pods(
            deployment=f"{release}-gateway",
            namespace=namespace,
            labels=labels("gateway"),
            annotations=gateway_annotations,
            pod_ips=gateway_ips,
            node_name=node_name,
            containers=[gateway],
            service_account=f"{release}-gateway",
        ),
        *pods.deployment_pods(
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
