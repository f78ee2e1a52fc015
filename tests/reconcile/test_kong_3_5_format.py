"""Whole collections in both formats against seeded data: Kong 3.5's report, figure by figure."""

from __future__ import annotations

import hashlib
import json

from license_report.reconcile import collection
from license_report.report import formats, lua_inspect, models, packaging
from license_report.sources import kong
from license_report_sandbox import kong as sim
from license_report_sandbox import seed
from tests.expected import NOW, monthly_totals, plugin_figures, tiers
from tests.helpers.datastores import Seeder
from tests.helpers.fleets import FleetFactory, collection_request

KONG_3_5 = "3.5.0.2"  # 3.x Enterprise versions carry no -enterprise-edition suffix


def _request(running: sim.Fleet, **options: object) -> collection.Request:
    return collection_request(
        running,
        months=formats.KONG_3_5_MONTHS,
        admin_api=kong.ClientSettings(timeout=2.0),
        **options,
    )


def _reports(result: models.Collection) -> tuple[dict[str, object], dict[str, object]]:
    """report.json in the 2.7 shape and in the 3.5 shape, as written."""
    legacy = json.loads(packaging.package(result, format=formats.Format.KONG_2_7).report_json)
    current = json.loads(packaging.package(result, format=formats.Format.KONG_3_5).report_json)
    return legacy, current


def _expected_plugins(definition: seed.Seed) -> dict[str, object]:
    by_name, lambdas, kafkas = plugin_figures(definition)
    return {
        "tiers": tiers(by_name),
        "unique_route_lambdas": lambdas,
        "unique_route_kafkas": kafkas,
    }


async def test_db_mode_both_formats_from_the_seeded_datastore(
    fleet: FleetFactory, seeded: Seeder
) -> None:
    definition = seed.sample_seed(now=NOW.date(), nodes=3, months=14)
    settings = seeded(definition)
    expected = monthly_totals(definition, months=12)
    # Kong 3.5 nodes, all showing the cluster's figures (never to be summed).
    shared = sim.Datastore(counters=expected, services=9, workspaces=3, rbac_users=2)
    nodes = [
        sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared, version=KONG_3_5)
        for i in range(3)
    ]
    async with fleet(nodes) as running:
        result = await collection.collect(_request(running, database=settings))
    legacy, report = _reports(result)

    buckets = [{"bucket": b, "request_count": expected[b]} for b in sorted(expected)]
    buckets.sort(key=lambda counter: counter["bucket"] == "UNKNOWN")
    assert legacy["counters"] == buckets
    assert report["counters"] == {"buckets": buckets, "total_requests": sum(expected.values())}
    assert (legacy["services_count"], legacy["workspaces_count"], legacy["rbac_users"]) == (9, 3, 2)
    assert (report["services_count"], report["workspaces_count"], report["rbac_users"]) == (9, 3, 2)
    assert (report["routes_count"], report["consumers_count"]) == (12, 5)
    assert report["plugins_count"] == _expected_plugins(definition)
    assert report["deployment_info"] == {"type": "traditional"}
    assert report["license"] == {
        "license_key": "UNLICENSED",
        "license_expiration_date": "2017-7-20",
    }
    assert report["kong_version"] == KONG_3_5
    assert str(report["db_version"]).startswith("postgres 1")
    assert result.format == "kong-3.5"  # auto: the fleet's own Kong's shape
    assert report["timestamp"] == int(NOW.timestamp())
    # Kong's recipe: SHA-1 of Lua inspect(report) (checked against the real inspect.lua
    # in tests/report/test_lua_inspect_luajit.py), no longer the canonical JSON's.
    body = {key: value for key, value in report.items() if key != "checksum"}
    rendering = lua_inspect.inspect(body).encode()
    assert report["checksum"] == hashlib.sha1(rendering, usedforsecurity=False).hexdigest()


async def test_dbless_kong_3_5_nodes_keep_no_counters_and_list_their_plugins(
    fleet: FleetFactory,
) -> None:
    # DB-less Kong has one workspace: the seed's configuration, served by every node.
    definition = seed.sample_seed(now=NOW.date())
    configuration = {
        "services": definition.services,
        "routes": definition.routes,
        "serviceless_routes": definition.serviceless_routes,
        "consumers": definition.consumers,
        "plugins": seed.sim_plugins(definition),
    }
    nodes = [
        sim.SimNode(
            name=f"gw-{i}", mode=sim.Mode.EE_DBLESS, version=KONG_3_5,
            counters={"2026-11": 10 * (i + 1), "2026-10": 1, "UNKNOWN": 2},
            license_key="RAW-KEY-1", license_expiration_date="2027-06-30",
            **configuration,  # type: ignore[arg-type]
        )
        for i in range(3)
    ]  # fmt: skip
    async with fleet(nodes) as running:
        result = await collection.collect(_request(running))
    _, report = _reports(result)

    # Kong's strategy is off on DB-less nodes: its own report has no counters, nor ours.
    assert "counters" not in report
    assert result.outcome is models.Outcome.COMPLETE
    assert report["plugins_count"] == _expected_plugins(definition)
    assert (report["routes_count"], report["consumers_count"]) == (12, 5)
    assert report["services_count"] == 9
    assert report["deployment_info"] == {"type": "dbless"}
    assert report["db_version"] == "off"
    # No license Secret: the nodes' own (3.5-shaped) reports give the key and its date.
    assert report["license"] == {
        "license_key": "RAW-KEY-1",
        "license_expiration_date": "2027-06-30",
    }


async def test_hybrid_counts_the_data_planes_the_datastore_lists(
    fleet: FleetFactory, seeded: Seeder
) -> None:
    definition = seed.Seed(
        services_per_workspace={"default": 2}, data_planes=4, expired_data_planes=2
    )
    settings = seeded(definition)
    cluster = sim.Datastore(services=2, data_planes=99)  # the datastore is what is read
    control = sim.SimNode(
        name="cp", mode=sim.Mode.EE_DB, role="control_plane", datastore=cluster, version=KONG_3_5
    )
    license_text = json.dumps(
        {"license": {"payload": {"license_key": "K-1", "license_expiration_date": "2029-02-28"}}}
    )
    async with fleet([control]) as running:
        result = await collection.collect(
            _request(running, database=settings, license_text=license_text)
        )
    _, report = _reports(result)
    assert report["deployment_info"] == {"type": "hybrid", "connected_dp_count": 4}
    assert report["license"] == {
        "license_key": "K-1",
        "license_expiration_date": "2029-02-28",
    }


async def test_hybrid_without_a_datastore_asks_the_control_plane(fleet: FleetFactory) -> None:
    cluster = sim.Datastore(services=3, data_planes=5, counters={"2026-11": 8})
    control = sim.SimNode(name="cp", mode=sim.Mode.EE_DB, role="control_plane", datastore=cluster)
    plane = sim.SimNode(name="dp", mode=sim.Mode.EE_DBLESS, role="data_plane", services=3)
    async with fleet([plane, control]) as running:
        result = await collection.collect(_request(running))
    _, report = _reports(result)
    assert report["deployment_info"] == {"type": "hybrid", "connected_dp_count": 5}
    assert "/clustering/data-planes" in control.requests_seen
    assert "/clustering/data-planes" not in plane.requests_seen
