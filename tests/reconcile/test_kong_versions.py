"""report.json as each Kong version writes it, per mode, from a real PostgreSQL datastore.

The datastore holds Kong's tables with every corner the figures depend on:
admins' consumers (type 2) and their RBAC users, a developer, a
``workspace_entity_counters`` that differs from the rows (Kong 2.7-3.8 report
the counters, 3.9+ count the rows), ``license_data`` rows with year 0 and
month 5, month 0, months before the 12- and 24-month windows and a future
month. The nodes answer as that Kong does (tests/helpers/observations). The
expected report is computed in tests/expected.py from Kong's rules alone.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from license_report.report import aggregation, models, packaging
from license_report.sources import datastore
from license_report_sandbox import kong_schema
from tests import expected
from tests.helpers import datastores
from tests.helpers.observations import ObservationFactory, inputs, observation

LICENSE_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_a1VASASD"
# NOW is 2026-11: 2.x windows start 2024-12, 3.5+ windows 2025-12.
ROWS = [
    (0, 0, 1),  # pre-2.7
    (0, 5, 2),  # year 0, month 5: UNKNOWN
    (2024, 0, 4),  # month 0 in the 24-month window's first year: dropped by 2.x
    (2025, 0, 8),  # month 0 in a later year than 2.x's first: UNKNOWN; 3.5+: dropped
    (2024, 11, 16),  # before both windows
    (2024, 12, 32),  # first month of 24
    (2025, 11, 64),  # in 24, before 12
    (2025, 12, 128),  # first month of 12
    (2026, 10, 0),  # an idle node's flush: a real bucket with 0
    (2026, 11, 256),  # this month
    (2027, 2, 512),  # a clock ahead: kept (no upper bound)
]
CONSUMER_TYPES = [0, 0, 0, 2, 2, 1]  # 3 proxy, 2 admins', 1 developer
RBAC_USERS = 5  # 2 of them admins'
SERVICES, ROUTES = 6, 9
COUNTERS = [("services", 5), ("services", 2), ("routes", 8), ("consumers", 3), ("rbac_users", 4)]
TEAM = "00000000-0000-4000-8000-000000000002"

ENTERPRISE = ["2.8.4.1", "3.4.3.12", "3.5.0.7", "3.8.1.0", "3.9.1.2"]


def _fill(settings: datastore.DatastoreSettings, *, enterprise: bool) -> int:
    """Kong's tables with the rows above; returns ``server_version_num``."""
    with datastores.connect(settings) as conn:
        kong_schema.create_schema(conn, enterprise=enterprise)
        default = kong_schema.DEFAULT_WORKSPACE_ID
        conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'team')", (TEAM,))
        for i in range(SERVICES):
            conn.execute(
                "INSERT INTO services (id, name, ws_id, host) VALUES (%s, %s, %s, 'h')",
                (str(uuid.uuid4()), f"s{i}", default),
            )
        for i in range(ROUTES):
            conn.execute(
                "INSERT INTO routes (id, name, ws_id) VALUES (%s, %s, %s)",
                (str(uuid.uuid4()), f"r{i}", default),
            )
        if enterprise:
            conn.execute(datastores.KONG_EE_DDL)
            for i, consumer_type in enumerate(CONSUMER_TYPES):
                conn.execute(
                    "INSERT INTO consumers (id, username, type, ws_id) VALUES (%s, %s, %s, %s)",
                    (str(uuid.uuid4()), f"c{i}", consumer_type, default),
                )
            for i in range(RBAC_USERS):
                conn.execute(
                    "INSERT INTO rbac_users (id, name, user_token, enabled, ws_id) "
                    "VALUES (%s, %s, %s, true, %s)",
                    (str(uuid.uuid4()), f"u{i}", f"t{i}", default),
                )
            for (kind, count), workspace in zip(
                COUNTERS, [default, TEAM, default, default, default], strict=True
            ):
                conn.execute(
                    "INSERT INTO workspace_entity_counters VALUES (%s, %s, %s)",
                    (workspace, kind, count),
                )
            for year, month, count in ROWS:
                conn.execute(
                    "INSERT INTO license_data (node_id, req_cnt, license_creation_date, "
                    "year, month) VALUES (%s, %s, '2024-01-01', %s, %s)",
                    (str(uuid.uuid4()), count, year, month),
                )
        else:
            for i in range(2):
                conn.execute(
                    "INSERT INTO consumers (id, username, ws_id) VALUES (%s, %s, %s)",
                    (str(uuid.uuid4()), f"c{i}", default),
                )
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(str(row[0]))


async def _report(
    nodes: list[Any], *, settings: datastore.DatastoreSettings | None, **options: Any
) -> tuple[models.Collection, dict[str, Any]]:
    figures = None
    if settings is not None:
        span = aggregation.widest_window(months=options.get("months"), now=expected.NOW)
        figures = await datastore.read(settings=settings, window=span)
    collection = aggregation.aggregate(inputs(nodes, datastore=figures, **options))
    return collection, json.loads(packaging.package(collection).report_json)


def _buckets(report: dict[str, Any]) -> dict[str, int] | None:
    counters = report.get("counters")
    if counters is None:
        return None
    listed = counters["buckets"] if isinstance(counters, dict) and counters else counters
    return {item["bucket"]: item["request_count"] for item in listed or []}


@pytest.mark.parametrize("version", ENTERPRISE)
@pytest.mark.parametrize("role", ["traditional", "control_plane"])
async def test_enterprise_on_postgres_reports_what_that_kong_writes(
    kong_db: datastore.DatastoreSettings, version: str, role: str
) -> None:
    server = _fill(kong_db, enterprise=True)
    nodes = [
        observation(n, version=version, role=role, license_key=LICENSE_KEY, host=f"m{n}")
        for n in ("a", "b")
    ]
    collection, report = await _report(nodes, settings=kong_db)

    release = expected.kong_release(version)
    shape_3_5 = release >= (3, 5)
    assert ("checksum" in report) is shape_3_5
    assert _buckets(report) == expected.kong_buckets(ROWS, back=expected.months_to_report(version))
    if shape_3_5:
        assert report["counters"]["total_requests"] == sum(_buckets(report).values())  # type: ignore[union-attr]
    counts = expected.kong_entity_counts(
        version,
        counter_rows=COUNTERS,
        service_rows=SERVICES,
        route_rows=ROUTES,
        consumer_types=CONSUMER_TYPES,
        rbac_user_rows=RBAC_USERS,
    )
    assert report["services_count"] == counts["services"]
    assert report["rbac_users"] == counts["rbac_users"]  # admins' users counted
    assert report["workspaces_count"] == 2
    if release >= (3, 1):
        assert report["consumers_count"] == counts["consumers"]  # admins not counted
    else:
        assert "consumers_count" not in report
    if shape_3_5:
        assert report["routes_count"] == counts["routes"]
        assert report["license"]["license_key"] == LICENSE_KEY
        expected_type = "hybrid" if role == "control_plane" else "traditional"
        assert report["deployment_info"]["type"] == expected_type
    else:
        assert report["license_key"] == LICENSE_KEY
    assert report["kong_version"] == expected.kong_version_string(version)
    assert report["db_version"] == expected.kong_db_version(version, server_version_num=server)
    assert report["system_info"] == {"cores": 8, "uname": "Linux x86_64"}  # 2 machines x 4
    assert collection.edition == "enterprise"


@pytest.mark.parametrize("version", ENTERPRISE)
async def test_enterprise_dbless_keeps_no_counters(version: str) -> None:
    nodes = [observation(n, version=version, database="off") for n in ("a", "b")]
    listed = models.EntityCounts(services=2, routes=3, consumers=1, workspaces=1, rbac_users=0)
    collection, report = await _report(nodes, settings=None, listed_counts=listed)

    assert "counters" not in report
    assert report["db_version"] == expected.kong_db_version(version, server_version_num=None)
    assert collection.edition == "enterprise"  # 3.4 and before: no `edition` in GET /
    assert collection.outcome is models.Outcome.COMPLETE
    assert [n.counters_note for n in collection.nodes] == 2 * [
        "DB-less: Kong's counter strategy is off"
    ]
    assert any("rbac_users leaves them out" in note for note in collection.notes)


@pytest.mark.parametrize("database", ["postgres", "off"])
async def test_kong_oss_keeps_no_counters(
    kong_db: datastore.DatastoreSettings, database: str
) -> None:
    settings = None
    if database == "postgres":
        _fill(kong_db, enterprise=False)
        settings = kong_db
    nodes = [observation(n, version="3.9.1", database=database, enterprise=False) for n in "ab"]
    listed = models.EntityCounts(services=2, routes=3, consumers=2, workspaces=1, rbac_users=0)
    collection, report = await _report(nodes, settings=settings, listed_counts=listed)

    assert "counters" not in report
    assert report["license"]["license_key"] == "UNLICENSED"
    assert report["consumers_count"] == 2  # OSS consumers have no type: every row
    assert collection.edition == "community"
    assert [n.counters_note for n in collection.nodes] == ["Kong OSS", "Kong OSS"]


async def test_months_override_the_kong_2_7_window_only(
    kong_db: datastore.DatastoreSettings,
) -> None:
    _fill(kong_db, enterprise=True)
    old = [observation("a", version="3.4.3.12")]
    _, report = await _report(old, settings=kong_db, months=12)
    assert _buckets(report) == expected.kong_buckets(ROWS, back=11)

    new = [observation("a", version="3.6.0.0")]
    collection, report = await _report(new, settings=kong_db, months=24)
    assert _buckets(report) == expected.kong_buckets(ROWS, back=11)
    assert any("report.months (24) is ignored" in note for note in collection.notes)


def test_observation_bodies_follow_kong() -> None:
    node: ObservationFactory = observation
    # The builder's bodies, checked against the research file's facts.
    assert node("a", version="3.4.3.12").info.edition is None
    assert node("a", version="3.6.0.0").info.edition == "enterprise"
    assert node("a", version="2.8.4.1").info.version == "2.8.4.1-enterprise-edition"
    dbless = node("a", version="3.4.3.12", database="off")
    assert dbless.license_report is not None
    assert dbless.license_report.counters is None
    assert node("a", version="3.4.3.12", database="off").status.database is None
    assert node("a", version="3.3.0.0", database="off").status.database is not None
