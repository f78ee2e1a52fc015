"""What datastore tests share: the ``kong`` role's password, the ``seeded`` fixture's type,
connecting to a test database, Kong Enterprise's extra DDL, and the sample seed most reports
are checked against."""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import conninfo

from license_report.sources import datastore
from license_report_sandbox import seed
from tests import expected

#: The ``kong`` role's password; random so that a test finding it in a message
#: cannot pass by coincidence.
KONG_PASSWORD = f"kong-{secrets.token_urlsafe(12)}"

#: The ``seeded`` fixture: apply a seed definition to a fresh database, get its settings.
Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]

#: The tables Kong Enterprise adds for its counting rules, with Kong's DDL
#: (e95e9e897c:kong/enterprise_edition/db/migrations/enterprise/000_base.lua:361-366,
#: 462-473); ``IF NOT EXISTS``, as the sandbox's schema may already have them.
KONG_EE_DDL = """
CREATE TABLE IF NOT EXISTS workspace_entity_counters (
    workspace_id  uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    entity_type   text,
    count         int,
    PRIMARY KEY (workspace_id, entity_type)
);
ALTER TABLE consumers ADD COLUMN IF NOT EXISTS type int NOT NULL DEFAULT 0;
"""


def dsn(settings: datastore.DatastoreSettings) -> str:
    """The settings as a libpq connection string, for what takes one (`kong.PostgresStore`)."""
    return conninfo.make_conninfo(
        host=settings.host,
        port=settings.port,
        dbname=settings.database,
        user=settings.user,
        password=settings.password,
    )


def connect(settings: datastore.DatastoreSettings) -> psycopg.Connection[Any]:
    """An autocommit connection as the settings' role, for rows a test writes or reads itself."""
    return psycopg.connect(dsn(settings), autocommit=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sample:
    """A sample seed in a test database, and the counters a 12-month report of it must show."""

    definition: seed.Seed
    settings: datastore.DatastoreSettings
    totals: dict[str, int]


def seed_sample(seeded: Seeder, *, nodes: int, window: int) -> Sample:
    """Seed 14 months of ``nodes`` nodes up to today; ``totals`` is what a report whose window
    is ``window`` months must show, worked out from the seed (with a 12-month window, a report
    that counts too far back shows up)."""
    now = datetime.datetime.now(datetime.UTC)
    definition = seed.sample_seed(now=now.date(), nodes=nodes, months=14)
    settings = seeded(definition)
    totals = expected.monthly_totals(definition, months=window, now=now)
    return Sample(definition=definition, settings=settings, totals=totals)
