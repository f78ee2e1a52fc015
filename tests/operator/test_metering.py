"""The real operator (kopf, real time) meters a DB-less fleet: its ``meter`` daemon starts by
itself for the request, samples every 5 s into the ledger, and a rerun's report carries
metering.json with the ledger's figures.

The other metering tests (tests/metering) run the daemon's ``serve`` on a fake clock;
this one checks what only kopf does: that the daemon is started for a metered request,
with the operator's own clients and settings, and that the report handler reads its
ledger.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from license_report_sandbox import metering as sim_metering
from tests.helpers import cluster
from tests.metering import harness

RATE = 20.0


async def test_the_operator_meters_a_dbless_fleet_and_reports_from_the_ledger(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: cluster.Operator
) -> None:
    clock = sim.LoopClock(start=datetime.datetime.now(datetime.UTC))
    async with sim_metering.metered_fleet(
        api, clock=clock, pods=2, rate=RATE, tick=0.2, prometheus="status_code_metrics",
        first_address=harness.first_address(),
    ) as fleet:  # fmt: skip
        gateway = {"selector": {"matchLabels": harness.SELECTOR}, "adminApi": {"scheme": "http"}}
        report = {"hashNames": False}
        spec = {"gateway": gateway, "metering": {"intervalSeconds": 5}, "report": report}
        await cluster.create(clients, cluster.request("metered", spec=spec))

        async def sampled_twice() -> dict[str, Any] | None:
            status: dict[str, Any] = (await cluster.get(clients, "metered")).get("status", {})
            metering = status.get("metering") or {}
            # A second round: the daemon goes on by itself every intervalSeconds.
            if metering.get("lastSampleTime") and metering.get("since") != metering.get(
                "lastSampleTime"
            ):
                return metering
            return None

        metering = await cluster.wait_for(sampled_twice, timeout=20, what="two sampling rounds")
        assert metering["active"] is True
        assert metering["why"] == "KONG_DATABASE=off: DB-less Kong keeps no license counters"
        assert metering["podsSampled"] == 2
        assert metering["sources"] == ["prometheus"]
        assert "lastError" not in metering
        ledgers = await kube.call(
            clients.core.list_namespaced_config_map,
            "kong",
            label_selector=f"licensereport.io/ledger={metering['ledger']}",
        )
        assert ledgers.items  # the ledger, in the request's namespace
        assert not ledgers.items[0].metadata.owner_references  # outlives the request

        rerun = {"metadata": {"annotations": {"licensereport.io/rerun": "metered"}}}
        await cluster.patch(clients, "metered", rerun)
        obj = await cluster.wait_phase(clients, "metered", {"Succeeded"}, rerun="metered")
        truth = sum(fleet.truth_by_month().values())
        config_map = await kube.call(
            clients.core.read_namespaced_config_map, obj["status"]["reportConfigMap"], "kong"
        )
    info = json.loads(config_map.data["metering.json"])
    assert info["counters"] == "ledger"
    assert info["sources"] == ["prometheus"]
    assert info["pods_metered"] == 2
    assert info["interval_seconds"] == 5
    counted = sum(info["months"].values())
    assert 0 < counted <= truth
    report = json.loads(config_map.data["report.json"])
    assert report["counters"]["total_requests"] == counted
    nodes = json.loads(config_map.data["nodes.json"])
    assert {entry["pod"] for entry in nodes} == set(fleet.live)
    assert all(entry["metered"] for entry in nodes)
