"""Whole collections: simulated Kong nodes, a real PostgreSQL datastore, known figures."""

from __future__ import annotations

import json

import pytest

from license_report.api import errors
from license_report.reconcile import collection
from license_report.report import hashing, models, packaging
from license_report.sources import datastore, license
from license_report_sandbox import kong as sim
from license_report_sandbox import seed
from tests.expected import NOW, monthly_totals
from tests.helpers.datastores import Seeder
from tests.helpers.fleets import KEY, FleetFactory, collection_request


def _counters(result: models.Collection) -> dict[str, int]:
    assert result.report.counters is not None
    return {c.bucket: c.request_count for c in result.report.counters}


async def test_db_mode_counts_the_datastore_once(fleet: FleetFactory, seeded: Seeder) -> None:
    definition = seed.sample_seed(now=NOW.date(), nodes=3, months=30)
    settings = seeded(definition)
    expected = monthly_totals(definition, months=24)  # a 3.4 fleet: Kong's 24 months
    # Every node shows the whole cluster's figures, as real DB-mode Kong does:
    # summing the three would triple them.
    shared = sim.Datastore(counters=expected, services=9, workspaces=3, rbac_users=2)
    nodes = [sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared) for i in range(3)]
    async with fleet(nodes) as running:
        result = await collection.collect(collection_request(running, database=settings))
    assert _counters(result) == expected
    assert len(_counters(result)) == 25  # 24 months + UNKNOWN; months 25 to 30 dropped
    assert result.format == "kong-2.7"
    report = result.report
    assert report.db_version.startswith("postgres 1")
    assert report.kong_version == "3.4.3.12"  # 3.x has no -enterprise-edition suffix
    assert result.outcome is models.Outcome.COMPLETE
    assert sorted(n.pod for n in result.nodes) == sorted(
        hashing.keyed_hash(key=KEY, value=f"kong-{i}") for i in range(3)
    )


async def test_dbless_enterprise_keeps_no_counters_and_counts_through_the_admin_api(
    fleet: FleetFactory,
) -> None:
    # Kong's strategy is off with database = off: the requests are served, not kept.
    nodes = [
        sim.SimNode(
            name=name,
            mode=sim.Mode.EE_DBLESS,
            counters={"2026-11": 5, "2026-10": 7},
            services=2500,
            routes=30,
        )
        for name in ("a", "b")
    ]
    async with fleet(nodes) as running:
        result = await collection.collect(collection_request(running, hash_names=False))
    assert result.report.counters is None
    assert "counters" not in json.loads(packaging.package(result).report_json)
    assert result.outcome is models.Outcome.COMPLETE
    assert result.failures == []
    assert [(n.pod, n.counters, n.counters_note) for n in result.nodes] == [
        ("a", "none", "DB-less: Kong's counter strategy is off"),
        ("b", "none", "DB-less: Kong's counter strategy is off"),
    ]
    assert result.edition == "enterprise"  # a 3.4 GET / has no edition
    assert result.report.services_count == 2500
    assert result.routes_count == 30
    assert result.report.db_version == "off nil"  # 3.4; "off" from 3.5
    assert result.mode == "dbless"


async def test_oss_reports_no_counters_and_says_why(fleet: FleetFactory) -> None:
    nodes = [sim.SimNode(name=f"oss-{i}", mode=sim.Mode.OSS_DBLESS, services=3) for i in range(2)]
    async with fleet(nodes) as running:
        result = await collection.collect(collection_request(running))
    assert result.report.counters is None
    assert result.report.kong_version == "3.9.1"
    assert result.report.license_key == "UNLICENSED"
    assert result.report.services_count == 3
    assert result.edition == "community"
    assert any("No node keeps license counters (Kong OSS" in note for note in result.notes)


async def test_a_node_down_degrades_and_is_named(fleet: FleetFactory) -> None:
    shared = sim.Datastore(counters={"2026-11": 5})
    nodes = [
        sim.SimNode(name="up", mode=sim.Mode.EE_DB, datastore=shared),
        sim.SimNode(name="down", mode=sim.Mode.EE_DB, datastore=shared, refuse=True),
    ]
    async with fleet(nodes) as running:
        result = await collection.collect(collection_request(running, hash_names=False))
    assert result.outcome is models.Outcome.DEGRADED
    assert [(f.pod, f.reason) for f in result.failures] == [
        ("down", errors.Reason.CONNECTION_REFUSED)
    ]
    assert _counters(result) == {"2026-11": 5}
    assert {n.pod: n.reachable for n in result.nodes} == {"down": False, "up": True}


async def test_no_node_reached_fails_and_names_every_node(fleet: FleetFactory) -> None:
    nodes = [sim.SimNode(name=f"n{i}", mode=sim.Mode.OSS_DBLESS, refuse=True) for i in range(2)]
    async with fleet(nodes) as running:
        with pytest.raises(collection.CollectionFailed, match="none of the 2") as caught:
            await collection.collect(collection_request(running))
    assert sorted(f.pod for f in caught.value.failures) == ["n0", "n1"]


async def test_datastore_down_is_a_transient_error(fleet: FleetFactory) -> None:
    nodes = [sim.SimNode(name="n", mode=sim.Mode.EE_DB, datastore=sim.Datastore(counters={}))]
    unreachable = datastore.DatastoreSettings(
        host="127.0.0.1", port=1, password="pw", connect_timeout=1
    )
    async with fleet(nodes) as running:
        with pytest.raises(datastore.DatastoreError) as caught:
            await collection.collect(collection_request(running, database=unreachable))
    assert caught.value.transient


async def test_a_malformed_license_fails_before_any_node_is_asked(fleet: FleetFactory) -> None:
    node = sim.SimNode(name="n", mode=sim.Mode.EE_DBLESS)
    async with fleet([node]) as running:
        with pytest.raises(license.LicenseError, match=r"license\.payload\.license_key"):
            await collection.collect(
                collection_request(running, license_text='{"license": {"payload": {}}}')
            )
    assert node.requests_seen == []


async def test_the_license_key_is_written_as_kong_writes_it(fleet: FleetFactory) -> None:
    text = json.dumps(
        {
            "license": {
                "payload": {"license_key": "RAW-KEY-123", "license_expiration_date": "2027-01-01"}
            }
        }
    )
    async with fleet(
        [sim.SimNode(name="n", mode=sim.Mode.EE_DBLESS, license_key="RAW-KEY-123")]
    ) as running:
        result = await collection.collect(collection_request(running, license_text=text))
    assert result.report.license_key == "RAW-KEY-123"
    files = packaging.package(result)
    assert json.loads(files.report_json)["license_key"] == "RAW-KEY-123"
    assert b"RAW-KEY-123" not in files.nodes_json
    assert hashing.keyed_hash(key=KEY, value="RAW-KEY-123").encode() not in files.report_json


async def test_cores_from_targets_are_summed_per_machine(fleet: FleetFactory) -> None:
    nodes = [sim.SimNode(name=f"n{i}", mode=sim.Mode.EE_DBLESS, cores=99) for i in range(3)]
    async with fleet(nodes) as running:
        targets = [
            models.Target(
                name="n0", url=running.url("n0"), host="m1", host_cores=8, host_uname="Linux x86_64"
            ),
            models.Target(
                name="n1", url=running.url("n1"), host="m1", host_cores=8, host_uname="Linux x86_64"
            ),
            models.Target(
                name="n2",
                url=running.url("n2"),
                host="m2",
                host_cores=4,
                host_uname="Linux aarch64",
            ),
        ]
        result = await collection.collect(collection_request(running, targets=targets))
    assert result.report.system_info.cores == 12
    assert result.report.system_info.uname == "Linux aarch64, Linux x86_64"
