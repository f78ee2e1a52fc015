"""The datastore reader follows Kong's own rules (docs/kong-fidelity.md), on a real PostgreSQL.

The tables Kong Enterprise adds for these rules are created here with Kong's
DDL (``IF NOT EXISTS``: the sandbox's schema may already have them):
``workspace_entity_counters`` and consumers' ``type``
(e95e9e897c:kong/enterprise_edition/db/migrations/enterprise/000_base.lua:361-366, 462-473).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import psycopg

from license_report.report.window import Window
from license_report.sources import datastore
from license_report_sandbox import kong_schema
from tests.helpers import datastores

NOW = datetime.datetime(2025, 3, 15, 12, 0, tzinfo=datetime.UTC)
WINDOW = Window.ending(now=NOW, months=12)  # from 2024-04, no upper bound
NODE = "11111111-1111-4111-8111-111111111111"
OTHER_WORKSPACE = "00000000-0000-4000-8000-000000000002"


def _enterprise(settings: datastore.DatastoreSettings) -> psycopg.Connection[Any]:
    conn = datastores.connect(settings)
    kong_schema.create_schema(conn, enterprise=True)
    conn.execute(datastores.KONG_EE_DDL)
    return conn


def _usage(conn: psycopg.Connection[Any], rows: list[tuple[int, int, int]]) -> None:
    for year, month, requests in rows:
        conn.execute(
            "INSERT INTO license_data (node_id, req_cnt, license_creation_date, year, month) "
            "VALUES (%s, %s, '2024-01-01', %s, %s)",
            (str(uuid.uuid4()), requests, year, month),
        )


async def test_window_rows_follow_kongs_should_report_bucket(
    kong_db: datastore.DatastoreSettings,
) -> None:
    with _enterprise(kong_db) as conn:
        _usage(
            conn,
            [
                (0, 0, 1),  # pre-2.7: UNKNOWN
                (0, 5, 2),  # year 0, month 5: kept (UNKNOWN)
                (2024, 0, 4),  # month 0 in the first month's year: dropped
                (2025, 0, 8),  # month 0 in a later year: kept (UNKNOWN)
                (2024, 3, 16),  # before the window
                (2024, 4, 32),  # the first month
                (2025, 4, 64),  # next month: kept, Kong has no upper bound
                (2031, 7, 128),  # a clock years ahead: kept too
            ],
        )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert {(u.year, u.month): u.requests for u in figures.usage} == {
        (0, 0): 1,
        (0, 5): 2,
        (2025, 0): 8,
        (2024, 4): 32,
        (2025, 4): 64,
        (2031, 7): 128,
    }


async def test_entity_counters_and_rows_are_both_read_admins_not_consumers(
    kong_db: datastore.DatastoreSettings,
) -> None:
    with _enterprise(kong_db) as conn:
        conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'team-b')", (OTHER_WORKSPACE,))
        default = kong_schema.DEFAULT_WORKSPACE_ID
        # Three proxy consumers, two admins' consumers (type 2), one developer (type 1).
        for i, consumer_type in enumerate([0, 0, 0, 2, 2, 1]):
            conn.execute(
                "INSERT INTO consumers (id, username, type, ws_id) VALUES (%s, %s, %s, %s)",
                (str(uuid.uuid4()), f"c{i}", consumer_type, default),
            )
        for i in range(5):  # every rbac user counts, admins' included
            conn.execute(
                "INSERT INTO rbac_users (id, name, user_token, enabled, ws_id) "
                "VALUES (%s, %s, %s, true, %s)",
                (str(uuid.uuid4()), f"u{i}", f"t{i}", default),
            )
        counters = [
            (default, "services", 4), (OTHER_WORKSPACE, "services", 3),
            (default, "routes", 2), (default, "consumers", 3),
            (OTHER_WORKSPACE, "rbac_users", 6), (default, "plugins", 9),
        ]  # fmt: skip
        for workspace, kind, count in counters:
            conn.execute(
                "INSERT INTO workspace_entity_counters VALUES (%s, %s, %s)",
                (workspace, kind, count),
            )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    # Kong 3.9+: COUNT(*), consumers WHERE type = 0, rbac_users every row.
    assert (figures.counts.consumers, figures.counts.rbac_users) == (3, 5)
    assert figures.counts.workspaces == 2
    # Kong 2.7-3.8: the counters, all workspaces summed; a type with no row is 0.
    assert figures.counters is not None
    assert figures.counters.model_dump() == {
        "services": 7,
        "routes": 2,
        "consumers": 3,
        "rbac_users": 6,
    }


async def test_kong_oss_has_no_entity_counters(kong_db: datastore.DatastoreSettings) -> None:
    with datastores.connect(kong_db) as conn:
        kong_schema.create_schema(conn, enterprise=False)
        for i in range(2):  # OSS consumers have no type: every row counts
            conn.execute(
                "INSERT INTO consumers (id, username, ws_id) VALUES (%s, %s, %s)",
                (str(uuid.uuid4()), f"c{i}", kong_schema.DEFAULT_WORKSPACE_ID),
            )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.counters is None
    assert "workspace_entity_counters" in figures.missing_tables
    assert figures.counts.consumers == 2


def test_db_version_is_spelled_as_kongs_connector_does() -> None:
    # server_version_num: major*10000 + minor (10+), or major*10000 + minor*100 + patch.
    assert datastore.db_version(90624) == "postgres 9.6.24"
    assert datastore.db_version(130004) == "postgres 13.4"
    assert datastore.db_version(160010) == "postgres 16.10"
    assert datastore.db_version(180000) == "postgres 18.0"
