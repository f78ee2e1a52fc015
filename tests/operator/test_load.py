"""Load: 200 requests at once across 20 namespaces, each against its own pods."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

from license_report.reconcile import kube
from license_report.sim import kong as sim
from license_report.sim import kubeapi
from tests.conftest import FleetFactory
from tests.operator.conftest import (
    KONG_LABELS,
    Operator,
    create,
    report_config_maps,
    request,
    wait_for,
)

NAMESPACES = [f"tenant-{i:02d}" for i in range(20)]
PER_NAMESPACE = 10
MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


async def _all_ended(clients: kube.Clients, count: int) -> list[dict[str, Any]] | None:
    # One list of every request, as `kubectl get lrr -A` shows them: not 200 pollers,
    # which would starve the emulated API server sharing this event loop.
    await asyncio.sleep(0.5)
    listing = await kube.call(
        clients.custom.list_cluster_custom_object,
        "licensereport.io",
        "v1alpha1",
        "licensereportrequests",
    )
    items: list[dict[str, Any]] = listing["items"]
    ended = [
        i
        for i in items
        if (i.get("status") or {}).get("phase") in ("Succeeded", "Degraded", "Failed")
    ]
    return items if len(ended) == count else None


async def test_two_hundred_requests_all_complete_and_none_are_mixed_up(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    # Each namespace's two gateways count a figure of their own: 2 x (n + 1) x 1000.
    gateways = {
        ns: [
            sim.SimNode(
                name=f"{ns}-gw-{i}", mode=sim.Mode.EE_DBLESS, counters={MONTH: 1000 * (n + 1)}
            )
            for i in range(2)
        ]
        for n, ns in enumerate(NAMESPACES)
    }
    api.put(kubeapi.make_node("m", cpu=32))
    names = [(ns, f"r{i}") for ns in NAMESPACES for i in range(PER_NAMESPACE)]
    async with fleet([node for nodes in gateways.values() for node in nodes]) as running:
        for ns, nodes in gateways.items():
            api.put(kubeapi.make_namespace(ns))
            for node in nodes:
                ports = [("admin", running.port)]
                api.put(
                    kubeapi.make_pod(
                        node.name,
                        ns,
                        labels=KONG_LABELS,
                        ip=node.address,
                        node_name="m",
                        ports=ports,
                    )
                )
        await asyncio.gather(*(create(clients, request(name, namespace=ns)) for ns, name in names))
        done = await wait_for(
            lambda: _all_ended(clients, len(names)), timeout=120, what="200 requests to end"
        )
    for obj in done:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        assert obj["status"]["phase"] == "Succeeded", (
            f"{ns}/{name}: {obj['status'].get('conditions')}"
        )
        assert obj["status"]["summary"]["requestCount"] == 2 * 1000 * (NAMESPACES.index(ns) + 1), (
            f"{ns}/{name}"
        )
    for ns in NAMESPACES:
        config_maps = await report_config_maps(clients, ns)
        assert len(config_maps) == PER_NAMESPACE
        for cm in config_maps:
            pods = {entry["pod"] for entry in json.loads(cm.data["nodes.json"])}
            assert pods == {f"{ns}-gw-0", f"{ns}-gw-1"}, (
                f"{ns}/{cm.metadata.name} holds another tenant's pods"
            )
