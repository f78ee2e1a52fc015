"""Datastore part of a report on a big Kong database.

Run: ``.venv/bin/python -m bench.datastore`` (``--services``, ``--usage-rows``).
Target (issue 2): with 1,000,000 services and 200,000 license_data rows, the
datastore part of a report takes at most 1 s. Baseline in the same run: the
same read on the small sample database (3 nodes, 14 months), so the table
shows what size costs. The server is a real PostgreSQL 18 on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import secrets
import statistics
import tempfile
import time

import psycopg

from license_report.cli import loop
from license_report.report import models, window
from license_report.sources import datastore
from license_report_sandbox import postgres, seed

NOW = datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC)


def _timed_reads(settings: datastore.DatastoreSettings, *, runs: int) -> tuple[list[float], object]:
    span = window.Window.ending(now=NOW, months=12)
    times, figures = [], None
    for _ in range(runs):
        started = time.perf_counter()
        figures = loop.run(datastore.read(settings=settings, window=span))
        times.append(time.perf_counter() - started)
    return times, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--usage-rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    password = secrets.token_urlsafe(12)

    with (
        tempfile.TemporaryDirectory() as scratch,
        postgres.PostgresServer(base_dir=pathlib.Path(scratch)) as server,
    ):
        settings = {}
        for name in ("small", "big"):
            postgres.create_kong_database(server, name=name, owner_password=password)
            settings[name] = datastore.DatastoreSettings(
                host=server.host, port=server.port, database=name, password=password
            )
        with psycopg.connect(server.dsn(database="small", user="kong", password=password)) as conn:
            seed.apply_seed(conn, seed.sample_seed(now=NOW.date()))
        started = time.perf_counter()
        with psycopg.connect(
            server.dsn(database="big", user="kong", password=password), autocommit=True
        ) as conn:
            seed.apply_seed(conn, seed.Seed())
            seed.bulk_services(conn, count=args.services)
            expected = seed.bulk_license_data(
                conn, rows=args.usage_rows, nodes=500, ending=NOW.date()
            )
            conn.execute("ANALYZE")
        seeding = time.perf_counter() - started

        small, _ = _timed_reads(settings["small"], runs=args.runs)
        big, figures = _timed_reads(settings["big"], runs=args.runs)

    assert isinstance(figures, models.DatastoreFigures)
    assert figures.counts.services == args.services, figures.counts
    in_window = {(u.year, u.month): u.requests for u in figures.usage if u.year}
    assert all(expected[month] == requests for month, requests in in_window.items()), "wrong sums"

    print("| measurement | value | target |\n| --- | --- | --- |")
    rows = [
        ("when", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), ""),
        ("database", f"{args.services:,} services, {args.usage_rows:,} license_data rows", ""),
        ("seeding (not part of a report)", f"{seeding:.1f} s", ""),
        (
            f"read, small sample database (median of {args.runs})",
            f"{statistics.median(small) * 1000:.0f} ms",
            "baseline",
        ),
        (
            f"read, big database (median of {args.runs})",
            f"{statistics.median(big) * 1000:.0f} ms",
            "<= 1 s",
        ),
        ("read, big database (worst)", f"{max(big) * 1000:.0f} ms", "<= 1 s"),
        ("figures checked", "services count and every month's sum = what was seeded", ""),
    ]
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()
