"""Fixtures shared by every test area: no asyncio task left behind, one real
PostgreSQL server, a fresh database per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

from license_report.sources import datastore
from license_report_sandbox import kong as sim
from license_report_sandbox import postgres, seed

#: The ``kong`` role's password; random so that a test finding it in a message
#: cannot pass by coincidence.
KONG_PASSWORD = f"kong-{secrets.token_urlsafe(12)}"

# CI explores the same examples every run (reproducible); locally, new ones each time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

FleetFactory = Callable[..., contextlib.AbstractAsyncContextManager[sim.Fleet]]


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running: a fleet must stop everything it started."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)  # let tasks that were just cancelled or finished settle
    leftover = {
        task
        for task in asyncio.all_tasks() - before
        if not task.done() and task is not asyncio.current_task()
    }
    for task in leftover:
        task.cancel()
    assert not leftover, f"tasks left behind: {leftover}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server on 127.0.0.1 with password authentication, for the whole run.

    Its data lives in a directory of its own, not under pytest's numbered
    temporary directories: another pytest run on the machine prunes those.
    """
    with (
        tempfile.TemporaryDirectory(prefix="license-report-pg-") as base,
        postgres.PostgresServer(base_dir=pathlib.Path(base)) as server,
    ):
        yield server


@pytest.fixture
def kong_db(pg_server: postgres.Server) -> Iterator[datastore.DatastoreSettings]:
    """An empty database owned by role ``kong``, and the settings to read it; dropped after."""
    name = postgres.create_kong_database(
        pg_server, name=f"kong_{secrets.token_hex(6)}", owner_password=KONG_PASSWORD
    )
    yield datastore.DatastoreSettings(
        host=pg_server.host,
        port=pg_server.port,
        database=name,
        user="kong",
        password=KONG_PASSWORD,
    )
    postgres.drop_database(pg_server, name=name)


Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]


@pytest.fixture
def seeded(pg_server: postgres.Server, kong_db: datastore.DatastoreSettings) -> Seeder:
    """Apply a seed definition to ``kong_db``; returns its settings."""

    def apply(definition: seed.Seed) -> datastore.DatastoreSettings:
        dsn = pg_server.dsn(database=kong_db.database, user=kong_db.user, password=kong_db.password)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, definition)
        return kong_db

    return apply


@pytest.fixture
def fleet() -> FleetFactory:
    """Start simulated Kong nodes: ``async with fleet(nodes, **options) as running``."""

    @contextlib.asynccontextmanager
    async def start(nodes: Sequence[sim.SimNode], **options: Any) -> AsyncIterator[sim.Fleet]:
        async with sim.Fleet(nodes, **options) as running:
            yield running

    return start
