"""A request in each Kong mode ends Succeeded, with the right figures in an owned ConfigMap."""

from __future__ import annotations

import base64
import datetime
import io
import json
import tarfile

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers import datastores
from tests.helpers.cluster import (
    Operator,
    consistent_report,
    create,
    deploy,
    gateway_spec,
    kong_pg,
    report_config_maps,
    request,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory


async def test_db_mode_counts_the_datastore_once(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    seeded: datastores.Seeder,
) -> None:
    # A 3.4 fleet (the simulator's default): format auto is kong-2.7, Kong's 24 months.
    sample = datastores.seed_sample(seeded, nodes=3, window=24)
    expected = sample.totals
    # Every node shows the cluster's figures, as DB-mode Kong does: a sum would triple them.
    shared = sim.Datastore(counters=expected, services=9)
    nodes = [sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared) for i in range(3)]
    database = kong_pg(api, sample.settings)
    async with fleet(nodes) as running:
        deploy(api, running)
        spec = gateway_spec(datastore=database)
        created = await create(clients, request("audit", spec=spec))
        done = await wait_phase(clients, "audit", {"Succeeded"})

    status = done["status"]
    # One ConfigMap, the one the status names, its hash the status' reportSha256.
    _, config_map = await consistent_report(clients, "audit", run="1/")
    assert config_map.metadata.name == "audit-report"
    report = json.loads(config_map.data["report.json"])
    assert {c["bucket"]: c["request_count"] for c in report["counters"]} == expected
    assert (report["services_count"], report["workspaces_count"], report["rbac_users"]) == (9, 3, 2)
    assert report["system_info"]["cores"] == 12  # node-a (8) + node-b (4), once each
    assert report["system_info"]["uname"] == "Linux x86_64"
    # Owned by the request, with its uid: deleting the request deletes the report.
    (owner,) = config_map.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == (
        "LicenseReportRequest",
        "audit",
        created["metadata"]["uid"],
    )
    assert status["summary"]["requestCount"] == sum(expected.values())
    assert (status["summary"]["gatewayPods"], status["summary"]["podsReached"]) == (3, 3)
    assert status["observedGeneration"] == 1
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Complete": ("True", "ReportWritten"),
        "Degraded": ("False", "AllPodsReached"),
        "Failed": ("False", "NoError"),
    }
    tar_name, tar_b64 = next(iter(config_map.binary_data.items()))
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(tar_b64))) as tar:
        member = tar.extractfile("response.json")
        assert member is not None
        assert json.loads(member.read()) == report
    assert tar_name.startswith("report-")
    assert tar_name.endswith(".tar")


async def test_dbless_enterprise_keeps_no_counters_and_succeeds(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    # Kong's strategy is off with database = off: the nodes served requests, kept none.
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    nodes = [
        sim.SimNode(
            name=f"gw-{i}",
            mode=sim.Mode.EE_DBLESS,
            counters={month: 100 * (i + 1), "UNKNOWN": 1},
            services=7,
        )
        for i in range(3)
    ]
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("dbless"))
        done = await wait_phase(clients, "dbless", {"Succeeded"})
    (config_map,) = await report_config_maps(clients)
    report = json.loads(config_map.data["report.json"])
    assert "counters" not in report  # as Kong's own DB-less report
    assert report["services_count"] == 7
    assert report["db_version"] == "off nil"  # Enterprise 3.4
    status = done["status"]
    assert "requestCount" not in status["summary"]
    assert status["summary"]["podsReached"] == 3
    assert "failures" not in status or not status["failures"]
    (note,) = [n for n in status["notes"] if n.startswith("No node keeps license counters")]
    assert "DB-less: Kong's counter strategy is off: gw-0, gw-1, gw-2" in note  # in clear
    entries = json.loads(config_map.data["nodes.json"])
    assert {(e["counters"], e["counters_note"]) for e in entries} == {
        ("none", "DB-less: Kong's counter strategy is off")
    }
    assert "gw-0" not in config_map.data["nodes.json"]  # names hashed by default


async def test_oss_succeeds_with_no_counters_and_a_note(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = [sim.SimNode(name=f"oss-{i}", mode=sim.Mode.OSS_DBLESS, services=2) for i in range(2)]
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("oss"))
        done = await wait_phase(clients, "oss", {"Succeeded"})
    (config_map,) = await report_config_maps(clients)
    assert "counters" not in json.loads(config_map.data["report.json"])
    assert "requestCount" not in done["status"]["summary"]
    assert any("No node keeps license counters (Kong OSS" in n for n in done["status"]["notes"])
