"""Many requests at once across namespaces, each against its own pods: none mixed up.

20 in 4 namespaces (the operator's everyday concurrency) and 200 in 20
(the reliability load).
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import pytest

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    KONG_LABELS,
    Operator,
    create,
    gateway_spec,
    report_config_maps,
    request,
    wait_for,
)
from tests.helpers.fleets import FleetFactory

MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


async def _all_ended(clients: kube.Clients, count: int) -> list[dict[str, Any]] | None:
    # One list of every request, as `kubectl get lrr -A` shows them: not 200 pollers,
    # which would starve the emulated API server sharing this event loop.
    await asyncio.sleep(0.25)
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


@pytest.mark.parametrize(("namespaces", "per_namespace"), [(4, 5), (20, 10)], ids=["20", "200"])
async def test_requests_at_once_all_complete_and_none_are_mixed_up(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    namespaces: int,
    per_namespace: int,
) -> None:
    tenants = [f"tenant-{i:02d}" for i in range(namespaces)]
    # Each namespace's two gateways flush into a datastore of their own: 2 x (n + 1) x 1000.
    stores = {ns: sim.Datastore() for ns in tenants}
    gateways = {
        ns: [
            sim.SimNode(
                name=f"{ns}-gw-{i}",
                mode=sim.Mode.EE_DB,
                datastore=stores[ns],
                counters={MONTH: 1000 * (n + 1)},
            )
            for i in range(2)
        ]
        for n, ns in enumerate(tenants)
    }
    api.put(kubeapi.make_node("m", cpu=32))
    names = [(ns, f"r{i}") for ns in tenants for i in range(per_namespace)]
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
        clear = gateway_spec(report={"hashNames": False})  # nodes.json names pods in clear
        await asyncio.gather(
            *(create(clients, request(name, namespace=ns, spec=clear)) for ns, name in names)
        )
        done = await wait_for(
            lambda: _all_ended(clients, len(names)),
            timeout=120,
            what=f"{len(names)} requests to end",
        )
    for obj in done:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        assert obj["status"]["phase"] == "Succeeded", (
            f"{ns}/{name}: {obj['status'].get('conditions')}"
        )
        assert obj["status"]["summary"]["requestCount"] == 2 * 1000 * (tenants.index(ns) + 1), (
            f"{ns}/{name}"
        )
    for ns in tenants:
        config_maps = await report_config_maps(clients, ns)
        assert len(config_maps) == per_namespace
        for cm in config_maps:
            pods = {entry["pod"] for entry in json.loads(cm.data["nodes.json"])}
            assert pods == {f"{ns}-gw-0", f"{ns}-gw-1"}, (
                f"{ns}/{cm.metadata.name} holds another tenant's pods"
            )
