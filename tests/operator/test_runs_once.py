"""One report per generation or rerun value: never two, never half, across restarts."""

from __future__ import annotations

import asyncio
import json

from license_report.reconcile import kube
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    Operator,
    create,
    delete,
    deploy,
    gateway_nodes,
    patch,
    report_config_maps,
    request,
    wait_for,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory


async def _runs(clients: kube.Clients) -> list[str]:
    return [
        cm.metadata.annotations["licensereport.io/run"] for cm in await report_config_maps(clients)
    ]


async def test_spec_change_and_rerun_annotation_each_make_one_new_report(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = gateway_nodes()
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("r"))
        await wait_phase(clients, "r", {"Succeeded"}, generation=1)
        assert await _runs(clients) == ["1/"]
        asked = len(nodes[0].requests_seen)

        # A label is not a spec change: no new run.
        await patch(clients, "r", {"metadata": {"labels": {"team": "platform"}}})
        await asyncio.sleep(0.5)
        assert await _runs(clients) == ["1/"]
        assert len(nodes[0].requests_seen) == asked

        await patch(clients, "r", {"spec": {"report": {"months": 6}}})
        await wait_phase(clients, "r", {"Succeeded"}, generation=2)
        assert await _runs(clients) == ["2/"]

        await patch(
            clients, "r", {"metadata": {"annotations": {"licensereport.io/rerun": "2026-11-27"}}}
        )
        await wait_phase(clients, "r", {"Succeeded"}, rerun="2026-11-27")
        assert await _runs(clients) == ["2/2026-11-27"]  # rewritten in place: still one ConfigMap


async def test_a_request_present_before_the_operator_starts_is_reported(
    api: kubeapi.KubeAPI, clients: kube.Clients, stopped_operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        await create(clients, request("early"))
        await stopped_operator.start()
        try:
            await wait_phase(clients, "early", {"Succeeded"})
        finally:
            await stopped_operator.stop()
    assert await _runs(clients) == ["1/"]


async def test_deleting_the_request_deletes_its_report(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        await create(clients, request("gone"))
        await wait_phase(clients, "gone", {"Succeeded"})
    await delete(clients, "gone")

    async def collected() -> bool:
        return not await report_config_maps(clients)

    await wait_for(collected, what="garbage collection of the report ConfigMap")


async def test_the_hash_key_secret_is_created_once_and_reused(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        await create(clients, request("first"))
        await wait_phase(clients, "first", {"Succeeded"})
        key = await kube.call(
            clients.core.read_namespaced_secret, "license-report-hash-key", "license-report"
        )
        await create(clients, request("second"))
        await wait_phase(clients, "second", {"Succeeded"})
    again = await kube.call(
        clients.core.read_namespaced_secret, "license-report-hash-key", "license-report"
    )
    assert again.data == key.data
    assert again.metadata.uid == key.metadata.uid
    reports = {
        cm.metadata.name: json.loads(cm.data["report.json"])
        for cm in await report_config_maps(clients)
    }
    # Same installation key, same fleet: the same identifiers in both reports.
    assert reports["first-report"]["system_info"] == reports["second-report"]["system_info"]
