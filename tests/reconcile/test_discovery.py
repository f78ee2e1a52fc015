"""Discovery against the emulated API server: paged lists, only the fields it needs."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import pytest

from license_report.api import v1alpha1
from license_report.reconcile import discovery, kube
from license_report_sandbox import kubeapi

LABELS = {"app.kubernetes.io/name": "kong"}


@pytest.fixture
async def api() -> AsyncIterator[kubeapi.KubeAPI]:
    async with kubeapi.serve() as server:
        yield server


def gateway(**admin_api: object) -> v1alpha1.Gateway:
    return v1alpha1.Gateway.model_validate(
        {"selector": {"matchLabels": LABELS}, "adminApi": admin_api or {"portName": "admin"}}
    )


async def test_a_fleet_larger_than_a_page_is_listed_whole_page_by_page(
    api: kubeapi.KubeAPI,
) -> None:
    pods = 2 * discovery.PAGE + discovery.PAGE // 2 + 1  # three pages, the last one partial
    api.put(kubeapi.make_node("machine", cpu=8))
    for i in range(pods):
        ready = i % 100 != 0  # every hundredth pod is not Ready: a failure, not dropped
        api.put(
            kubeapi.make_pod(
                f"gw-{i:05}", "kong", labels=LABELS, ip=f"127.2.{i // 250}.{i % 250 + 1}",
                node_name="machine", ready=ready,
            )
        )  # fmt: skip
    api.put(kubeapi.make_pod("other", "kong", labels={"app": "other"}, ip="127.3.0.1"))
    clients = kube.Clients.from_api_client(api.client())

    found = await discovery.discover(clients=clients, namespace="kong", gateway=gateway())

    assert found.pods == pods
    assert {t.name for t in found.targets} | {f.pod for f in found.failures} == {
        f"gw-{i:05}" for i in range(pods)
    }
    assert {f.pod for f in found.failures} == {f"gw-{i:05}" for i in range(0, pods, 100)}
    assert found.targets[1].url == "http://127.2.0.3:8001"  # the port named "admin"
    assert (found.targets[1].host, found.targets[1].host_cores) == ("machine", 8)
    lists = [
        urllib.parse.parse_qs(r.query)
        for r in api.requests
        if r.method == "GET" and r.path == "/api/v1/namespaces/kong/pods"
    ]
    assert [q["limit"] for q in lists] == [[str(discovery.PAGE)]] * 3
    assert ["continue" in q for q in lists] == [False, True, True]


async def test_a_pod_without_the_named_port_is_a_failure_naming_the_port(
    api: kubeapi.KubeAPI,
) -> None:
    api.put(kubeapi.make_pod("gw", "kong", labels=LABELS, ip="127.2.0.1", ports=[("proxy", 8000)]))
    clients = kube.Clients.from_api_client(api.client())
    found = await discovery.discover(
        clients=clients, namespace="kong", gateway=gateway(portName="admin")
    )
    (failure,) = found.failures
    assert (failure.pod, failure.message) == ("gw", "no container port named admin")
    fixed = await discovery.discover(clients=clients, namespace="kong", gateway=gateway(port=8444))
    assert fixed.targets[0].url == "http://127.2.0.1:8444"


@pytest.mark.parametrize(
    ("capacity", "cores"),
    [("8", 8), ("3500m", 4), ("4000m", 4), ("4.0001", 5), ("0.5", 1), ("250m", 1), ("lots", None)],
)
async def test_a_node_s_cpu_capacity_is_rounded_up_to_whole_cores(
    api: kubeapi.KubeAPI, capacity: str, cores: int | None
) -> None:
    api.put(kubeapi.make_node("machine", cpu=capacity))
    api.put(kubeapi.make_pod("gw", "kong", labels=LABELS, ip="127.2.0.1", node_name="machine"))
    clients = kube.Clients.from_api_client(api.client())
    found = await discovery.discover(clients=clients, namespace="kong", gateway=gateway())
    assert found.targets[0].host_cores == cores


async def test_hybrid_data_planes_are_neither_asked_nor_failures(api: kubeapi.KubeAPI) -> None:
    # Kong renders no Admin API for a data plane: asking one could only fail.
    def pod(name: str, ip: str, env: dict[str, str]) -> dict[str, object]:
        body = kubeapi.make_pod(name, "kong", labels=LABELS, ip=ip)
        for container in body["spec"]["containers"]:
            container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        return body

    api.put(pod("cp", "127.2.0.1", {"KONG_ROLE": "control_plane"}))
    api.put(pod("dp-0", "127.2.0.2", {"KONG_ROLE": "data_plane"}))
    api.put(
        pod(
            "dp-1",
            "127.2.0.3",
            {"KONG_ROLE": "data_plane", "KONG_CLUSTER_TELEMETRY_ENDPOINT": "NONE"},
        )
    )
    clients = kube.Clients.from_api_client(api.client())

    found = await discovery.discover(clients=clients, namespace="kong", gateway=gateway())

    assert [t.name for t in found.targets] == ["cp"]
    assert found.failures == []
    assert [(p.pod, p.telemetry) for p in found.data_planes] == [("dp-0", True), ("dp-1", False)]
    assert found.pods == 3
