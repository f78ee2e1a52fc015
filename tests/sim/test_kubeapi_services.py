"""Services and their EndpointSlices in the emulated API server, as the ``kubernetes`` client
reads them: the slices of a Service found by the ``kubernetes.io/service-name`` label, typed
by the client's models, and collected with the Service."""

from __future__ import annotations

import asyncio

import kubernetes.client

from license_report_sandbox import kubeapi

SERVICE = "kong-postgresql"
LABEL = f"kubernetes.io/service-name={SERVICE}"


def _service() -> kubeapi.Body:
    # As the Kong chart's PostgreSQL sub-chart renders it: a named targetPort.
    return kubeapi.make_service(
        SERVICE,
        "kong",
        selector={"app.kubernetes.io/name": "postgresql"},
        ports=[("tcp-postgresql", 5432, "tcp-postgresql")],
    )


async def test_a_services_slices_are_listed_by_its_label_and_typed_by_the_client(
    cluster: kubeapi.KubeAPI,
) -> None:
    service = cluster.put(_service())
    cluster.put(
        kubeapi.make_endpoint_slice(
            service,
            endpoints=[("kong-postgresql-0", "127.0.0.3", True)],
            ports=[("tcp-postgresql", 5432)],
        )
    )
    other = cluster.put(kubeapi.make_service("other", "kong", selector={}, ports=[("", 80, 8080)]))
    cluster.put(kubeapi.make_endpoint_slice(other, endpoints=[("other-0", "127.0.0.4", True)]))
    client = cluster.client()
    core = kubernetes.client.CoreV1Api(client)
    discovery = kubernetes.client.DiscoveryV1Api(client)

    read = (await asyncio.to_thread(core.read_namespaced_service, SERVICE, "kong")).to_dict()
    assert [(p["name"], p["port"], p["target_port"]) for p in read["spec"]["ports"]] == [
        ("tcp-postgresql", 5432, "tcp-postgresql")
    ]
    slices = await asyncio.to_thread(
        discovery.list_namespaced_endpoint_slice, "kong", label_selector=LABEL
    )
    assert len(slices.items) == 1
    found = slices.items[0].to_dict()
    assert found["address_type"] == "IPv4"
    endpoints = [
        (ep["target_ref"]["kind"], ep["target_ref"]["name"], ep["conditions"]["ready"])
        for ep in found["endpoints"]
    ]
    assert endpoints == [("Pod", "kong-postgresql-0", True)]
    assert [(p["name"], p["port"]) for p in found["ports"]] == [("tcp-postgresql", 5432)]
    everything = await asyncio.to_thread(discovery.list_namespaced_endpoint_slice, "kong")
    assert [(p["name"], p["port"]) for p in everything.items[1].to_dict()["ports"]] == [("", 8080)]


async def test_deleting_a_service_collects_its_slices(cluster: kubeapi.KubeAPI) -> None:
    service = cluster.put(_service())
    cluster.put(kubeapi.make_endpoint_slice(service, endpoints=[], ports=[]))
    discovery = kubernetes.client.DiscoveryV1Api(cluster.client())
    cluster.delete("v1", "Service", SERVICE, "kong")
    slices = await asyncio.to_thread(
        discovery.list_namespaced_endpoint_slice, "kong", label_selector=LABEL
    )
    assert slices.items == []


async def test_endpointslices_are_discoverable(cluster: kubeapi.KubeAPI) -> None:
    """kubectl finds the resource through discovery before it lists it."""
    apis = kubernetes.client.ApisApi(cluster.client())
    groups = await asyncio.to_thread(apis.get_api_versions)
    discovery = next(g.to_dict() for g in groups.groups if g.name == "discovery.k8s.io")
    assert discovery["preferred_version"]["group_version"] == "discovery.k8s.io/v1"
    resources = await asyncio.to_thread(
        kubernetes.client.DiscoveryV1Api(cluster.client()).get_api_resources
    )
    assert {r.name for r in resources.resources} == {"endpointslices"}
