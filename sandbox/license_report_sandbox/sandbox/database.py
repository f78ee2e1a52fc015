"""The sandbox's Kong datastore: a real PostgreSQL with Kong's tables and seeded usage.

The seed is also what the simulated gateways show: in DB mode every node's own
``/license/report`` shows the whole ``license_data`` table (so the shared
counters are the seeded per-month totals, all months); in DB-less mode each
node shows the rows seeded under its own node id.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import secrets

import psycopg

from license_report.report import window
from license_report.sources import datastore
from license_report_sandbox import postgres, seed

DATABASE = "kong"
USER = "kong"
#: Months of usage seeded (the sample request reports the last 12 and UNKNOWN).
SEEDED_MONTHS = 14


@dataclasses.dataclass(frozen=True)
class Seeded:
    """A running, seeded datastore and how to reach it."""

    host: str
    port: int
    password: str = dataclasses.field(repr=False)
    db_version: str
    seed: seed.Seed


def start_and_seed(*, pg: postgres.PostgresServer, pods: int, today: datetime.date) -> Seeded:
    """Blocking (initdb, pg_ctl, the seed): run it in a thread."""
    running = pg.start()
    password = secrets.token_urlsafe(16)
    postgres.create_kong_database(running, name=DATABASE, owner=USER, owner_password=password)
    definition = seed.sample_seed(now=today, nodes=pods, months=SEEDED_MONTHS)
    dsn = running.dsn(database=DATABASE, user=USER, password=password)
    with psycopg.connect(dsn) as conn:
        seed.apply_seed(conn, definition)
        row = conn.execute("SHOW server_version_num").fetchone()
    version = int(str(row[0])) if row else 0
    return Seeded(
        host=running.host,
        port=running.port,
        password=password,
        db_version=datastore.db_version(version),
        seed=definition,
    )


def counters(definition: seed.Seed, *, node_id: str | None = None) -> dict[str, int]:
    """Requests per bucket, over every node (the table) or one node's rows."""
    totals: dict[str, int] = collections.defaultdict(int)
    for usage in definition.usage:
        if node_id is None or usage.node_id == node_id:
            totals[window.bucket_name(year=usage.year, month=usage.month)] += usage.requests
    return dict(totals)
