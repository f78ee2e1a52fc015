"""The Kong chart's PostgreSQL sub-chart (Bitnami) as the cluster shows it: the StatefulSet pod
``<release>-postgresql-0``, the Service ``<release>-postgresql`` (port 5432 named
``tcp-postgresql``, targetPort by name) and the EndpointSlice the controller writes for it.

The gateway pods of `kong_chart.chart_postgres` name that Service in ``KONG_PG_HOST``: from
outside the cluster it does not resolve, and the operator reaches PostgreSQL through a
port-forward to the pod the EndpointSlice says is ready. The real server's address is
registered as the pod's port 5432 with the emulator's pod network; the Pod object's IP
serves nothing.
"""

from __future__ import annotations

from license_report_sandbox import kubeapi

#: The sub-chart's image at Kong chart 3.4.1 (its Chart.lock: postgresql 11.9.13).
IMAGE = "docker.io/bitnami/postgresql:13.11.0-debian-11-r20"
PORT = 5432
PORT_NAME = "tcp-postgresql"


def labels(release: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "primary",
    }


def install(
    api: kubeapi.KubeAPI,
    *,
    release: str = "kong",
    namespace: str = "kong",
    pod_ip: str,
    server: tuple[str, int] | None,
    ready: bool = True,
) -> str:
    """Put the pod, the Service and its EndpointSlice; ``server``: the real PostgreSQL the
    pod's port 5432 is (None: nothing listens in the pod). Returns the Service's name."""
    pod = f"{release}-postgresql-0"
    name = f"{release}-postgresql"
    api.put(
        kubeapi.make_pod(
            pod,
            namespace,
            labels=labels(release),
            ip=pod_ip,
            node_name="node-1",
            ready=ready,
            ports=[(PORT_NAME, PORT)],
            image=IMAGE,
            container="postgresql",
        )
    )
    service = api.put(
        kubeapi.make_service(
            name, namespace, selector=labels(release), ports=[(PORT_NAME, PORT, PORT_NAME)]
        )
    )
    api.put(
        kubeapi.make_endpoint_slice(
            service, endpoints=[(pod, pod_ip, ready)], ports=[(PORT_NAME, PORT)]
        )
    )
    if server is not None:
        api.pod_network.listen(namespace, pod, {PORT: server})
    return name
