"""Collection speed and memory: 1,000 simulated nodes answering after 50 ms.

Run: ``.venv/bin/python -m bench.collection`` (``--nodes``, ``--latency``).
Targets (issue 2): at most 2 s at the default concurrency, at least 25 times
faster than asking the same nodes one after another in the same run, peak RSS
of the collecting process at most 150 MB. The fleet runs in a child process so
that its memory and CPU are not counted as the collector's. Both run on uvloop,
as ``license-report`` does.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import time

from license_report.cli import loop
from license_report.reconcile import collection
from license_report.report import hashing, models
from license_report.sources import kong
from license_report_sandbox import process


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


async def _collect(
    targets: list[models.Target], *, concurrency: int
) -> tuple[float, models.Collection]:
    request = collection.Request(
        targets=targets,
        hash_key=hashing.new_key(),
        admin_api=kong.ClientSettings(max_concurrency=concurrency, timeout=10.0),
    )
    started = time.perf_counter()
    result = await collection.collect(request)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    default = kong.ClientSettings().max_concurrency

    with process.spawn_fleet(count=args.nodes, mode="ee-dbless", latency=args.latency) as fleet:
        targets = [models.Target(name=n["name"], url=n["url"]) for n in fleet["nodes"]]
        concurrent, result = loop.run(_collect(targets, concurrency=default))
        rss_after_concurrent = _peak_rss_mb()
        assert not result.failures, result.failures
        # DB-less Kong keeps no counters (its strategy is off): every node read, none kept.
        assert result.report.counters is None, result.report.counters
        assert sum(1 for node in result.nodes if node.counters == "none") == args.nodes
        sequential = None if args.skip_sequential else loop.run(_collect(targets, concurrency=1))[0]

    rows = [
        ("when", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), ""),
        ("nodes, latency", f"{args.nodes}, {args.latency * 1000:g} ms", ""),
        (f"collection, concurrency {default}", f"{concurrent:.2f} s", "<= 2 s"),
        ("peak RSS of the collector", f"{rss_after_concurrent:.0f} MB", "<= 150 MB"),
    ]
    if sequential is not None:
        rows += [
            ("collection, one node at a time", f"{sequential:.2f} s", "baseline"),
            ("speed-up", f"{sequential / concurrent:.1f}x", ">= 25x"),
        ]
    rows.append(
        ("figures checked", f"{args.nodes} DB-less nodes read, counters absent as in Kong", "")
    )
    print("| measurement | value | target |\n| --- | --- | --- |")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()
