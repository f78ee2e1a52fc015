"""Fixtures for whole collections: a seeded Kong datastore and fleets of simulated nodes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import psycopg
import pytest

from license_report.sim import kong as sim
from license_report.sim import postgres, seed
from license_report.sources import datastore

KEY = b"installation-key-0123456789abcdef"

Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]
FleetFactory = Callable[..., contextlib.AbstractAsyncContextManager[sim.Fleet]]


@pytest.fixture
def seeded(pg_server: postgres.Server, kong_db: datastore.DatastoreSettings) -> Seeder:
    def apply(definition: seed.Seed) -> datastore.DatastoreSettings:
        dsn = pg_server.dsn(database=kong_db.database, user=kong_db.user, password=kong_db.password)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, definition)
        return kong_db

    return apply


@pytest.fixture
def fleet() -> FleetFactory:
    @contextlib.asynccontextmanager
    async def start(nodes: Sequence[sim.SimNode], **options: Any) -> AsyncIterator[sim.Fleet]:
        async with sim.Fleet(nodes, **options) as running:
            yield running

    return start
