"""Kong chart releases: the chart's defaults, with PostgreSQL, and hybrid control and data planes.

Kong chart 3.4.1, Kong/charts e76b8003 (``charts/kong``). Snapshots:
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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from license_report_sandbox.kubeapi.resources import Body
from license_report_sandbox.topologies import chart_containers, pods

#: An Enterprise image as the chart's Enterprise examples set it (``kong/kong-gateway``).
ENTERPRISE_IMAGE = "kong/kong-gateway:3.4.3.12"
#: The license Secret name the chart's examples use (``enterprise.license_secret``).
LICENSE_SECRET = "kong-enterprise-license"  # noqa: S105 -- a Secret's name

CHART = "kong-3.4.1"


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


def _kong_release(
    *,
    release: str,
    namespace: str,
    pod_ips: Sequence[str],
    image: str,
    license_secret: str | None,
    node_name: str,
    database: str,
    admin_listen: str,
    ingress_controller: bool,
    proxy: bool,
    ports: Sequence[Body] = chart_containers.PROXY_PORTS,
    migration_ip: str | None = None,
    extra: Mapping[str, str | Body] = {},
) -> list[Body]:
    """A Kong chart release: gateway pods and, with a database, the init-migrations pod.

    One ``ingress_controller`` sets both the controller's env and its container,
    and the init-migrations pod follows ``database``: the chart renders that Job
    only when ``env.database`` is not ``off``.
    """
    env = chart_containers.kong_env(
        release=release,
        database=database,
        admin_listen=admin_listen,
        ingress_controller=ingress_controller,
        proxy=proxy,
        license_secret=license_secret,
        extra=extra,
    )
    fullname = f"{release}-kong"
    labels = {
        **_chart_labels(release=release, image=image, component="app"),
        "app": fullname,
        "version": _tag_version(image),
    }
    containers = [chart_containers.proxy_container(image=image, env=env, ports=ports)]
    if ingress_controller:
        containers.insert(
            0, chart_containers.ingress_controller(release=release, namespace=namespace)
        )
    release_pods = pods.deployment_pods(
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
    if database != "off":
        release_pods.append(
            pods.job_pod(
                job=f"{fullname}-init-migrations",
                namespace=namespace,
                labels=_chart_labels(release=release, image=image, component="init-migrations"),
                annotations={
                    "kuma.io/service-account-token-volume": f"{fullname}-token",
                    "sidecar.istio.io/inject": "false",
                },
                ip=migration_ip,
                node_name=node_name,
                containers=[chart_containers.migration_container(image=image, env=env)],
                service_account=fullname,
            )
        )
    return release_pods


def chart_default(
    *,
    release: str = "kong",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    image: str = chart_containers.OSS_IMAGE,
    license_secret: str | None = None,
    node_name: str = "node-1",
) -> list[Body]:
    """Kong chart defaults: ingress controller + DB-less, the Admin API on loopback only.

    ``license_secret`` turns on the Enterprise variant
    (``minimal-kong-enterprise-dbless.yaml``: ``enterprise.enabled``,
    ``KONG_LICENSE_DATA`` from that Secret's ``license`` key); pass an
    Enterprise ``image`` with it.
    """
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        license_secret=license_secret,
        node_name=node_name,
        database="off",
        admin_listen=chart_containers.LOOPBACK_ADMIN_LISTEN,
        ingress_controller=True,
        proxy=True,
    )


def chart_postgres(
    *,
    release: str = "kong",
    namespace: str = "kong",
    pod_ips: Sequence[str],
    migration_ip: str | None = None,
    image: str = chart_containers.OSS_IMAGE,
    license_secret: str | None = None,
    node_name: str = "node-1",
) -> list[Body]:
    """The Kong chart with its PostgreSQL sub-chart: gateway pods, then the init-migrations pod.

    ``KONG_PG_HOST`` is the short Service name ``<release>-postgresql`` and
    ``KONG_PG_PASSWORD`` comes from Secret ``<release>-postgresql`` key
    ``password`` (test5-values.snap). The migration pod is the last item.
    """
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        license_secret=license_secret,
        node_name=node_name,
        database="postgres",
        admin_listen=chart_containers.LOOPBACK_ADMIN_LISTEN,
        ingress_controller=True,
        proxy=True,
        migration_ip=migration_ip,
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
    ports = (
        pods.port("admin", 8001),
        pods.port("admin-tls", 8444),
        pods.port("status", 8100),
        pods.port("cluster-tls", 8005),
        pods.port("manager", 8002),
        pods.port("manager-tls", 8445),
        pods.port("clustert-tls", 8006),
    )
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        license_secret=license_secret,
        node_name=node_name,
        database="postgres",
        admin_listen=chart_containers.CLUSTER_ADMIN_LISTEN,
        ingress_controller=False,
        proxy=False,
        ports=ports,
        migration_ip=migration_ip,
        extra={
            "KONG_ROLE": "control_plane",
            "KONG_CLUSTER_CERT": "/etc/secrets/kong-cluster-cert/tls.crt",
            "KONG_CLUSTER_CERT_KEY": "/etc/secrets/kong-cluster-cert/tls.key",
            "KONG_CLUSTER_LISTEN": "0.0.0.0:8005 ssl, [::]:8005 ssl",
            "KONG_CLUSTER_TELEMETRY_LISTEN": "0.0.0.0:8006 ssl, [::]:8006 ssl",
        },
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
    return _kong_release(
        release=release,
        namespace=namespace,
        pod_ips=pod_ips,
        image=image,
        license_secret=license_secret,
        node_name=node_name,
        database="off",
        admin_listen=chart_containers.LOOPBACK_ADMIN_LISTEN,
        ingress_controller=False,
        proxy=True,
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
