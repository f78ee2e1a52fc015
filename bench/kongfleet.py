"""A simulated Kong fleet in a child process, over TLS when asked, for `bench.operator`.

Run by `spawn` (``python -m bench.kongfleet``), never by hand. The sandbox's own
child (``python -m license_report_sandbox.kong``) serves plain HTTP only; the Kong
chart's default Admin API is ``127.0.0.1:8444 http2 ssl`` with a per-pod
self-signed certificate, so the port-forward benchmark needs the same fleet
behind TLS: the Fleet and the nodes are the sandbox's (`kong.fleet.Fleet`,
`kong.child.demo_nodes`), only the certificate is added here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import signal
import ssl
import sys
from collections.abc import Iterator
from typing import Any

from license_report_sandbox import process
from license_report_sandbox.kong import child, fleet, nodes


def _kong_tls() -> ssl.SSLContext:
    """Kong's per-pod self-signed certificate (CN=localhost): no CA anyone could pin."""
    import trustme

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)
    return context


async def _serve(args: argparse.Namespace) -> None:
    simulated = child.demo_nodes(
        count=args.count,
        mode=nodes.Mode.EE_DBLESS,
        bucket=datetime.datetime.now(datetime.UTC).strftime("%Y-%m"),
        latency=args.latency,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    context = _kong_tls() if args.tls else None
    async with fleet.Fleet(
        simulated, ssl_context=context, first_address=args.first_address
    ) as running:
        listing = [{"name": n.name, "address": n.address} for n in simulated]
        print(json.dumps({"port": running.port, "nodes": listing}), flush=True)
        await stop.wait()


@contextlib.contextmanager
def spawn(*, count: int, latency: float, tls: bool, first_address: str) -> Iterator[dict[str, Any]]:
    """The fleet's JSON line (``port``, ``nodes``: name and address) while it runs."""
    command = [
        sys.executable, "-m", "bench.kongfleet", "--count", str(count),
        "--latency", str(latency), "--first-address", first_address,
    ]  # fmt: skip
    if tls:
        command.append("--tls")
    with process.announced(command) as line:
        yield line


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--first-address", default="127.0.0.2")
    parser.add_argument("--tls", action="store_true")
    import uvloop

    uvloop.run(_serve(parser.parse_args()))
