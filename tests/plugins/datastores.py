"""One real PostgreSQL server for the whole run, and a fresh Kong database per test."""

from __future__ import annotations

import pathlib
import secrets
import tempfile
from collections.abc import Iterator

import psycopg
import pytest

from license_report.sources import datastore
from license_report_sandbox import postgres, seed
from tests.helpers.datastores import KONG_PASSWORD, Seeder


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


@pytest.fixture
def seeded(pg_server: postgres.Server, kong_db: datastore.DatastoreSettings) -> Seeder:
    """Apply a seed definition to ``kong_db``; returns its settings."""

    def apply(definition: seed.Seed) -> datastore.DatastoreSettings:
        dsn = pg_server.dsn(database=kong_db.database, user=kong_db.user, password=kong_db.password)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, definition)
        return kong_db

    return apply
