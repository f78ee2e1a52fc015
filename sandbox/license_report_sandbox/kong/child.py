"""A fleet in its own process (benchmarks, and tests of the real CLI): ``python -m
license_report_sandbox.kong``, which `license_report_sandbox.process.spawn_fleet` starts."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import signal
import uuid
from collections.abc import Sequence

from license_report_sandbox import faults
from license_report_sandbox.kong import fleet, nodes


def demo_nodes(
    *, count: int, mode: nodes.Mode, bucket: str, latency: float = 0.0, services: int = 0
) -> list[nodes.SimNode]:
    """Nodes with deterministic traffic: node ``i`` (from 0), ``kong-i``, proxied ``100 + i``
    requests in ``bucket`` plus 1 in ``UNKNOWN`` (a pre-2.7 row).

    Each node flushed them as Kong would: ``ee-db`` nodes into one shared datastore
    (under their own node ids; every node reports the whole table), ``ee-dbless``
    nodes nowhere (Kong's ``off`` strategy: no ``counters`` in their reports; the
    truth is in each node's ``proxied``), OSS nodes keep no sales counters at all.
    """
    datastore = None
    if not mode.dbless:
        datastore = nodes.Datastore(services=services, cluster_id="demo")
    return [
        nodes.SimNode(
            name=f"kong-{i}",
            mode=mode,
            node_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"license-report-sim/kong-{i}")),
            counters={bucket: 100 + i, nodes.UNKNOWN_BUCKET: 1},
            services=services,
            datastore=datastore,
            total_requests=101 + i,
            fault=faults.Fault(latency=latency),
        )
        for i in range(count)
    ]


def parser() -> argparse.ArgumentParser:
    this_month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    parser = argparse.ArgumentParser(
        prog="python -m license_report_sandbox.kong",
        description=(
            "Run simulated Kong nodes until SIGTERM/SIGINT. Prints one JSON line "
            '{"port", "urls", "nodes": [{"name", "url", "hostname", "node_id"}]} once '
            "listening. Node i (from 0) is kong-i and proxied 100+i requests in BUCKET "
            "plus 1 in UNKNOWN, flushed as Kong does (ee-db: into the shared datastore, "
            "every node shows the totals sum(100+i) and COUNT; ee-dbless: Kong's off "
            "strategy, no counters in the report). "
            "/status total_requests is 101+i. The line is about 250 bytes per node: "
            "readers of a large fleet need a line limit above asyncio's 64 KiB default."
        ),
    )
    parser.add_argument("--count", type=int, default=3, help="number of nodes (default 3)")
    parser.add_argument(
        "--mode", type=nodes.Mode, choices=list(nodes.Mode), default=nodes.Mode.EE_DBLESS
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--first-address", default="127.0.0.2")
    parser.add_argument("--bucket", default=this_month, help="YYYY-MM (default: this month)")
    parser.add_argument("--services", type=int, default=0, help="services per node/cluster")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    simulated = demo_nodes(
        count=args.count,
        mode=args.mode,
        bucket=args.bucket,
        latency=args.latency,
        services=args.services,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with fleet.Fleet(
            simulated, port=args.port, first_address=args.first_address
        ) as running:
            listing = [
                {
                    "name": n.name,
                    "url": running.url(n),
                    "hostname": n.hostname,
                    "node_id": n.node_id,
                }
                for n in simulated
            ]
            line = {"port": running.port, "urls": [n["url"] for n in listing], "nodes": listing}
            print(json.dumps(line), flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # uvloop: a thousand simulated nodes in one process must not be the
    # bottleneck of the benchmark that measures the collector.
    import uvloop

    return uvloop.run(_serve(parser().parse_args(argv)))
