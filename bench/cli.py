"""``license-report`` as a user meets it: start-up, and a whole ``collect`` process.

Run: ``.venv/bin/python -m bench.cli`` (``--runs``, ``--nodes``, ``--latency``).
Targets (issue 11): ``license-report --help`` and ``license-report collect
--help`` in under 0.3 s of wall time (median of ``--runs`` processes); the
whole ``license-report collect`` process over 1,000 simulated nodes at 50 ms
within 1.5 times a bare concurrent client plus 0.6 s, both measured here.

The bare client is the floor: aiohttp on uvloop (as ``collect`` runs), 64
nodes at once, connections closed after each answer (as ``collect`` does),
the same requests (``/``, ``/status``, ``/license/report`` of every node,
then the paged lists of one node, as counting configuration without a
datastore asks), bodies read and not parsed, timed inside its own process
after its imports. ``collect`` is timed from outside, as a user waits for it:
interpreter start, imports, flags, requests, validation, aggregation and the
files written. The fleet runs in a child process so that its CPU is not
counted as either client's; the figures ``collect`` wrote are checked.

The processes run with their bytecode cached (in a scratch directory, by
``PYTHONPYCACHEPREFIX``), as a pip-installed wheel and the image have it;
this machine's ``PYTHONDONTWRITEBYTECODE=1`` would otherwise have every run
compile the package's sources again. The machine is shared: each start-up
figure comes with the CPU time (user + system) the process used, which other
load disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import aiohttp

from license_report.api import defaults
from license_report.cli import loop
from license_report_sandbox import process

EXECUTABLE = pathlib.Path(sys.executable).with_name("license-report")
#: What ``collect`` asks of every node, and then of one node to count configuration.
NODE_PATHS = ("/", "/status", "/license/report")
LIST_PATHS = ("/services", "/routes", "/consumers", "/plugins", "/rbac/users")
PAGE = "?size=1000"


def _environment(work: pathlib.Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LICENSE_REPORT_") and key != "PYTHONDONTWRITEBYTECODE"
    }
    environment["XDG_CONFIG_HOME"] = str(work / "config")
    environment["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return environment


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(command: Sequence[str], *, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time of one process running ``command``."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, _children_cpu() - cpu


def _start_ups(
    command: Sequence[str], *, env: dict[str, str], runs: int
) -> tuple[list[float], list[float]]:
    _wall(command, env=env)  # unmeasured: bytecode written, files in the page cache
    measured = [_wall(command, env=env) for _ in range(runs)]
    return sorted(wall for wall, _ in measured), sorted(cpu for _, cpu in measured)


async def _bare(urls: Sequence[str], *, concurrency: int) -> float:
    """Every request ``collect`` makes, with nothing done to the answers: the floor."""
    connector = aiohttp.TCPConnector(
        limit=concurrency * len(NODE_PATHS), force_close=True, happy_eyeballs_delay=None
    )
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str) -> None:
            async with session.get(url, allow_redirects=False) as response:
                await response.read()

        gate = asyncio.Semaphore(concurrency)

        async def node(base: str) -> None:
            async with gate:
                await asyncio.gather(*(get(base + path) for path in NODE_PATHS))

        started = time.perf_counter()
        await asyncio.gather(*(node(url) for url in urls))
        await get(urls[0] + "/workspaces" + PAGE)
        await asyncio.gather(*(get(urls[0] + path + PAGE) for path in LIST_PATHS))
        return time.perf_counter() - started


def _collect(
    nodes: Sequence[dict[str, str]], *, out: pathlib.Path, key: pathlib.Path, env: dict[str, str]
) -> float:
    command = [str(EXECUTABLE), "collect", "--hash-key-file", str(key), "--out", str(out)]
    for node in nodes:
        command += ["--node", f"{node['name']}={node['url']}"]
    return _wall(command, env=env)[0]


def _checked_total(out: pathlib.Path, *, nodes: int) -> int:
    report = json.loads((out / "report.json").read_text())
    total = sum(c["request_count"] for c in report["counters"] if c["bucket"] != "UNKNOWN")
    expected = sum(100 + i for i in range(nodes))  # what the simulated fleet seeds
    assert total == expected, (total, expected)
    return int(total)


def _seconds(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} s (runs: {', '.join(f'{v:.2f}' for v in values)})"


def _start_up(figures: tuple[list[float], list[float]]) -> str:
    wall, cpu = figures
    return f"{_seconds(wall)}; CPU {statistics.median(cpu):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="processes per --help figure")
    parser.add_argument("--collect-runs", type=int, default=3, help="runs of each client")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        work = pathlib.Path(scratch)
        key = work / "hash-key"
        key.write_text("00" * 32)
        env = _environment(work)
        top_help = _start_ups([str(EXECUTABLE), "--help"], env=env, runs=args.runs)
        collect_help = _start_ups([str(EXECUTABLE), "collect", "--help"], env=env, runs=args.runs)
        with process.spawn_fleet(count=args.nodes, mode="ee-dbless", latency=args.latency) as fleet:
            nodes = fleet["nodes"]
            urls = [node["url"] for node in nodes]
            # Unmeasured: the collection's modules compiled, as an installed wheel has them.
            _collect(nodes[:10], out=work / "warm-up", key=key, env=env)
            bare, whole = [], []
            for run in range(args.collect_runs):  # alternated, so both meet the same machine
                bare.append(loop.run(_bare(urls, concurrency=defaults.MAX_CONCURRENCY)))
                whole.append(_collect(nodes, out=work / f"out-{run}", key=key, env=env))
        total = _checked_total(work / "out-0", nodes=args.nodes)

    floor, collect = statistics.median(bare), statistics.median(whole)
    target = 1.5 * floor + 0.6
    rows = [
        ("when", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), ""),
        ("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", ""),
        (f"`license-report --help`, median of {args.runs}", _start_up(top_help), "< 0.3 s"),
        (
            f"`license-report collect --help`, median of {args.runs}",
            _start_up(collect_help),
            "< 0.3 s",
        ),
        ("nodes, latency", f"{args.nodes}, {args.latency * 1000:g} ms", ""),
        (
            f"bare client, {defaults.MAX_CONCURRENCY} at once, no parsing",
            _seconds(sorted(bare)),
            "baseline",
        ),
        ("whole `license-report collect` process", _seconds(sorted(whole)), ""),
        (
            "collect against bare",
            f"{collect / floor:.2f}x, {collect - floor:+.2f} s; 1.5 x {floor:.2f} + 0.6 = "
            f"{target:.2f} s: {'met' if collect <= target else 'MISSED'}",
            "<= 1.5x + 0.6 s",
        ),
        ("figures checked", f"{total} requests = sum of seeded counters", ""),
    ]
    print("| measurement | value | target |\n| --- | --- | --- |")
    for name, value, goal in rows:
        print(f"| {name} | {value} | {goal} |")


if __name__ == "__main__":
    main()
