"""Fixtures for whole collections: a seeded Kong datastore and fleets of simulated nodes."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from license_report.sim import postgres, seed
from license_report.sources import datastore

KEY = b"installation-key-0123456789abcdef"

Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]


@pytest.fixture
def seeded(pg_server: postgres.Server, kong_db: datastore.DatastoreSettings) -> Seeder:
    def apply(definition: seed.Seed) -> datastore.DatastoreSettings:
        dsn = pg_server.dsn(database=kong_db.database, user=kong_db.user, password=kong_db.password)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, definition)
        return kong_db

    return apply
