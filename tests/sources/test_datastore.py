"""The datastore reader against a real PostgreSQL server holding Kong's tables."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import re
import socket
import time
import traceback
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from license_report.api import errors
from license_report.report import models
from license_report.report.window import Window
from license_report.sources import datastore
from license_report_sandbox import kong_schema, postgres, seed
from tests.expected import plugin_figures
from tests.helpers import datastores

NOW = datetime.datetime(2025, 3, 15, 12, 0, tzinfo=datetime.UTC)
WINDOW = Window.ending(now=NOW, months=12)  # 2024-04 .. 2025-03

NODE_A = "11111111-1111-4111-8111-111111111111"
NODE_B = "22222222-2222-4222-8222-222222222222"


def load(settings: datastore.DatastoreSettings, data: seed.Seed) -> None:
    with datastores.connect(settings) as conn:
        seed.apply_seed(conn, data)


def by_month(figures: models.DatastoreFigures) -> dict[tuple[int, int], int]:
    months = [(usage.year, usage.month) for usage in figures.usage]
    assert len(months) == len(set(months)), "each month appears once"
    return {(usage.year, usage.month): usage.requests for usage in figures.usage}


async def test_usage_is_summed_per_month_over_nodes_within_the_window(
    kong_db: datastore.DatastoreSettings,
) -> None:
    load(
        kong_db,
        seed.Seed(
            services_per_workspace={"default": 1},
            usage=(
                seed.Usage(node_id=NODE_A, year=2025, month=3, requests=10),
                seed.Usage(node_id=NODE_B, year=2025, month=3, requests=5),
                seed.Usage(node_id=NODE_A, year=2025, month=3, requests=20),  # upserted: +20
                seed.Usage(node_id=NODE_A, year=2024, month=12, requests=1),
                seed.Usage(node_id=NODE_A, year=2024, month=4, requests=7),  # first month in
                seed.Usage(node_id=NODE_A, year=2024, month=3, requests=1000),  # just before
                seed.Usage(node_id=NODE_B, year=2023, month=12, requests=1000),  # a year before
                seed.Usage(node_id=NODE_B, year=2025, month=4, requests=1000),  # later: kept
                seed.Usage(node_id=NODE_A, year=0, month=0, requests=3),
                seed.Usage(node_id=NODE_B, year=0, month=0, requests=4),
            ),
        ),
    )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    # No upper bound, as Kong's: a later month (a clock ahead) is kept.
    assert by_month(figures) == {
        (0, 0): 7,
        (2024, 4): 7,
        (2024, 12): 1,
        (2025, 3): 35,
        (2025, 4): 1000,
    }


async def test_a_sample_enterprise_datastore_reads_as_seeded(
    kong_db: datastore.DatastoreSettings,
) -> None:
    data = seed.sample_seed(now=NOW.date(), nodes=3, months=14)
    load(kong_db, data)

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    expected: collections.Counter[tuple[int, int]] = collections.Counter()
    for usage in data.usage:
        month = (usage.year, usage.month)
        if month == (0, 0) or (2024, 4) <= month <= (2025, 3):
            expected[month] += usage.requests
    assert by_month(figures) == expected
    assert len(figures.usage) == 13  # 12 months and UNKNOWN
    assert (2024, 3) not in by_month(figures)  # seeded, but outside the window
    by_name, lambdas, kafkas = plugin_figures(data)
    assert figures.counts == models.EntityCounts(
        services=9,
        routes=12,
        consumers=5,
        workspaces=3,
        rbac_users=2,
        plugins=models.PluginUsage(
            by_name=by_name, unique_route_lambdas=lambdas, unique_route_kafkas=kafkas
        ),
        data_planes=0,
    )
    assert (lambdas, kafkas) == (2, 3)  # the seed exercises both, with cases left out
    assert figures.missing_tables == []


async def test_bulk_seeding_reads_back(kong_db: datastore.DatastoreSettings) -> None:
    with datastores.connect(kong_db) as conn:
        kong_schema.create_schema(conn, enterprise=True)
        keys = "SELECT count(*) FROM pg_constraint WHERE contype IN ('p', 'u', 'f')"
        keys_before = conn.execute(keys).fetchall()
        seed.bulk_services(conn, count=2000)
        seed.bulk_services(conn, count=500, rebuild_indexes=True)  # the path for big loads
        assert conn.execute(keys).fetchall() == keys_before
        totals = seed.bulk_license_data(
            conn, rows=1000, nodes=7, ending=datetime.date(2025, 3, 1), requests=100
        )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    # 1000 rows over 7 nodes reach 142 months back: the window is full, 7 nodes a month.
    in_window = {(2024, month): 700 for month in range(4, 13)}
    in_window |= {(2025, month): 700 for month in range(1, 4)}
    assert by_month(figures) == in_window
    assert {month: totals[month] for month in in_window} == in_window
    assert sum(totals.values()) == 1000 * 100
    assert figures.counts.services == 2500


async def test_kong_oss_has_no_rbac_users_nor_usage(kong_db: datastore.DatastoreSettings) -> None:
    load(
        kong_db,
        seed.Seed(
            enterprise=False,
            workspaces=("extra",),
            services_per_workspace={"default": 3, "extra": 1},
            routes=2,
            consumers=1,
        ),
    )

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.counts == models.EntityCounts(
        services=4, routes=2, consumers=1, workspaces=2, rbac_users=0, data_planes=0
    )
    assert figures.usage == []
    assert figures.missing_tables == ["license_data", "rbac_users", "workspace_entity_counters"]


async def test_route_scoped_lambdas_are_counted_on_oss_without_consumer_groups(
    kong_db: datastore.DatastoreSettings,
) -> None:
    # Kong OSS has no consumer_group_id column: the query must not depend on it.
    definition = seed.Seed(
        enterprise=False,
        services_per_workspace={"default": 1},
        routes=3,
        serviceless_routes=2,  # routes 2 and 3
        plugins=(
            seed.Plugin("aws-lambda", route=2, config={"function_name": "a"}),
            seed.Plugin("aws-lambda", route=3, config={"function_name": "b"}),
            seed.Plugin("aws-lambda", route=1, config={"function_name": "c"}),
            seed.Plugin("aws-lambda", service=1, config={"function_name": "d"}),
        ),
    )
    load(kong_db, definition)

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    by_name, lambdas, kafkas = plugin_figures(definition)
    assert (lambdas, kafkas) == (2, 0)
    assert figures.counts.plugins == models.PluginUsage(
        by_name=by_name, unique_route_lambdas=lambdas, unique_route_kafkas=kafkas
    )


async def test_data_planes_whose_ttl_has_passed_are_not_counted(
    kong_db: datastore.DatastoreSettings,
) -> None:
    load(kong_db, seed.Seed(data_planes=3, expired_data_planes=2))

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.counts.data_planes == 3


async def test_without_plugin_and_data_plane_tables_those_are_not_counted(
    kong_db: datastore.DatastoreSettings,
) -> None:
    with datastores.connect(kong_db) as conn:
        kong_schema.create_schema(conn, enterprise=True)
        conn.execute("DROP TABLE plugins, clustering_data_planes")

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.counts.plugins == models.PluginUsage()
    assert figures.counts.data_planes is None
    assert figures.missing_tables == ["clustering_data_planes", "plugins"]


async def test_a_database_without_kong_tables_is_an_error(
    kong_db: datastore.DatastoreSettings,
) -> None:
    # Zeros would read like a real, idle Kong: a wrong database name must say so.
    with pytest.raises(datastore.DatastoreError) as caught:
        await datastore.read(settings=kong_db, window=WINDOW)

    assert caught.value.reason is errors.Reason.DATASTORE_NOT_A_KONG_DATABASE
    assert not caught.value.transient
    assert kong_db.database in str(caught.value)
    assert "kong migrations bootstrap" in str(caught.value)


async def test_an_empty_kong_database_counts_zero(kong_db: datastore.DatastoreSettings) -> None:
    with datastores.connect(kong_db) as conn:
        kong_schema.create_schema(conn, enterprise=True)

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.counts == models.EntityCounts(
        services=0, routes=0, consumers=0, workspaces=1, rbac_users=0, data_planes=0
    )
    assert figures.usage == []
    assert figures.missing_tables == []


async def test_db_version_is_major_minor_of_the_server(
    kong_db: datastore.DatastoreSettings,
) -> None:
    load(kong_db, seed.Seed())
    with datastores.connect(kong_db) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    assert row is not None
    major, minor = re.findall(r"\d+", str(row[0]))[:2]

    figures = await datastore.read(settings=kong_db, window=WINDOW)

    assert figures.db_version == f"postgres {major}.{minor}"


async def test_a_wrong_password_is_not_transient_and_never_shown(
    kong_db: datastore.DatastoreSettings,
) -> None:
    load(kong_db, seed.Seed())
    wrong = dataclasses.replace(kong_db, password="Wr0ng-S3cret-9f2b7c")

    with pytest.raises(datastore.DatastoreError) as caught:
        await datastore.read(settings=wrong, window=WINDOW)

    err = caught.value
    assert err.reason is errors.Reason.DATASTORE_AUTHENTICATION_FAILED
    assert not err.transient
    assert 'password authentication failed for user "kong"' in str(err)
    assert f"{kong_db.host}:{kong_db.port}/{kong_db.database}" in str(err)
    # Not in the message, the repr, the chained psycopg error, nor the settings.
    everything = "".join(traceback.format_exception(err)) + repr(err) + repr(wrong) + str(wrong)
    assert "Wr0ng-S3cret-9f2b7c" not in everything
    assert kong_db.password
    assert kong_db.password not in everything


def test_settings_repr_hides_the_password(kong_db: datastore.DatastoreSettings) -> None:
    assert kong_db.password
    assert kong_db.password not in repr(kong_db)
    assert kong_db.password not in str(kong_db)


async def test_a_missing_database_is_not_transient(kong_db: datastore.DatastoreSettings) -> None:
    settings = dataclasses.replace(kong_db, database="no_such_kong")

    with pytest.raises(datastore.DatastoreError) as caught:
        await datastore.read(settings=settings, window=WINDOW)

    assert caught.value.reason is errors.Reason.DATASTORE_DATABASE_NOT_FOUND
    assert not caught.value.transient
    assert "no_such_kong" in str(caught.value)


async def test_a_user_without_select_is_told_what_to_grant(
    pg_server: postgres.Server, kong_db: datastore.DatastoreSettings
) -> None:
    load(kong_db, seed.Seed())
    reader = f"reader_{kong_db.database}"
    with psycopg.connect(pg_server.dsn(database="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader-pw'").format(sql.Identifier(reader))
        )
    settings = dataclasses.replace(kong_db, user=reader, password="reader-pw")

    try:
        with pytest.raises(datastore.DatastoreError) as caught:
            await datastore.read(settings=settings, window=WINDOW)
    finally:
        with psycopg.connect(pg_server.dsn(database="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))

    assert caught.value.reason is errors.Reason.DATASTORE_PERMISSION_DENIED
    assert not caught.value.transient
    assert "permission denied for table" in str(caught.value)
    assert "GRANT SELECT" in str(caught.value)


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on (just released by the kernel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_server_that_is_down_fails_fast_and_transiently(closed_port: int) -> None:
    settings = datastore.DatastoreSettings(host="127.0.0.1", port=closed_port, password="x")
    started = time.monotonic()

    with pytest.raises(datastore.DatastoreError) as caught:
        await datastore.read(settings=settings, window=WINDOW)

    assert time.monotonic() - started < 2
    assert caught.value.reason is errors.Reason.DATASTORE_CONNECTION_REFUSED
    assert caught.value.transient
    assert f"127.0.0.1:{closed_port}/kong" in str(caught.value)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port: int = sock.getsockname()[1]
        yield port


async def test_a_server_that_never_answers_times_out(silent_port: int) -> None:
    settings = datastore.DatastoreSettings(
        host="127.0.0.1", port=silent_port, password="x", connect_timeout=0.5
    )
    started = time.monotonic()

    with pytest.raises(datastore.DatastoreError) as caught:
        await datastore.read(settings=settings, window=WINDOW)

    assert time.monotonic() - started < 2
    assert caught.value.reason is errors.Reason.DATASTORE_TIMEOUT
    assert caught.value.transient
    assert "0.5 s" in str(caught.value)


async def test_a_query_slower_than_the_statement_timeout_is_cut(
    kong_db: datastore.DatastoreSettings,
) -> None:
    load(kong_db, seed.Seed(services_per_workspace={"default": 3}))
    settings = dataclasses.replace(kong_db, statement_timeout=0.3)
    # Kong's migrations lock tables like this: counting must wait, then give up.
    with datastores.connect(kong_db) as locker, locker.transaction():
        locker.execute("LOCK TABLE services IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()

        with pytest.raises(datastore.DatastoreError) as caught:
            await datastore.read(settings=settings, window=WINDOW)

        elapsed = time.monotonic() - started

    assert 0.3 <= elapsed < 2
    assert caught.value.reason is errors.Reason.DATASTORE_STATEMENT_TIMEOUT
    assert caught.value.transient
    assert "statement timeout of 0.3 s" in str(caught.value)
