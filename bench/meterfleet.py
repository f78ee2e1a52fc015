"""A metered fleet's Kong nodes in a child process, for `bench.metering`.

Run by `spawn` (``python -m bench.meterfleet``), never by hand. Each node is a
simulated Kong Enterprise DB-less node whose status listener answers on its own
loopback address (the pod IP) on 8100, as the Kong chart renders
``KONG_STATUS_LISTEN 0.0.0.0:8100``, with the Prometheus plugin counting
requests (``status_code_metrics``); `kong.Traffic` proxies ``--rate`` requests a
second into each by the wall clock. Only the status listeners are opened (the
nodes refuse their Admin API, which the sampler never asks): 10,000 nodes then
hold 10,000 listening sockets, not 20,000, under this machine's ``ulimit -n`` of
20,000.

A line ``freeze`` on stdin stops the traffic (after a last step) and answers
one JSON line with the truth: the requests every node proxied, in total. From
then on the counters stay as they are, so the sampler's next round must bring
the ledger to exactly that total.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any

from license_report_sandbox import kong as sim
from license_report_sandbox.kong import status_api, traffic


async def _serve(args: argparse.Namespace) -> None:
    clock = sim.LoopClock(start=datetime.datetime.now(datetime.UTC))
    nodes = [
        sim.SimNode(
            name=f"node-{index}",
            mode=sim.Mode.EE_DBLESS,
            version="3.9.1",
            prometheus="status_code_metrics",
            refuse=True,  # no Admin API socket: the status listener is all the sampler reads
        )
        for index in range(args.count)
    ]
    flow = traffic.Traffic(clock=clock, rate=args.rate, tick=args.tick)
    for node in nodes:
        flow.add(node)
    async with sim.Fleet(
        nodes, first_address=args.first_address, status_port=status_api.PORT
    ) as running:
        # Every counter series exists before anyone samples (the plugin shows a route's
        # series from its first request on), whatever the tick.
        await asyncio.sleep(0.5)
        flow.step()
        print(
            json.dumps(
                {
                    "status_port": running.status_port,
                    "started": clock.now().isoformat(),
                    "addresses": [node.address for node in nodes],
                }
            ),
            flush=True,
        )
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        async with flow:
            line = await reader.readline()
        if line.strip() != b"freeze":
            return  # stdin closed: the bench is gone
        total = sum(sum(node.proxied.values()) for node in nodes)
        print(json.dumps({"proxied": total, "at": clock.now().isoformat()}), flush=True)
        await reader.readline()  # until stdin closes


class Fleet:
    """The child's announcement (``status_port``, ``started``, ``addresses``) and `freeze`."""

    def __init__(self, child: subprocess.Popen[str], line: dict[str, Any]) -> None:
        self.child = child
        self.status_port: int = line["status_port"]
        self.started = datetime.datetime.fromisoformat(line["started"])
        self.addresses: list[str] = line["addresses"]

    def freeze(self) -> tuple[int, datetime.datetime]:
        """Stop the traffic; the requests proxied by every node in all, and when it stopped."""
        assert self.child.stdin is not None
        self.child.stdin.write("freeze\n")
        self.child.stdin.flush()
        answer = json.loads(_line(self.child.stdout))
        return int(answer["proxied"]), datetime.datetime.fromisoformat(answer["at"])


def _line(stream: IO[str] | None) -> str:
    assert stream is not None
    line = stream.readline()
    if not line:
        raise RuntimeError("the simulated fleet exited")
    return line


@contextlib.contextmanager
def spawn(*, count: int, rate: float, first_address: str, tick: float) -> Iterator[Fleet]:
    """The fleet while it runs; terminated on the way out, whatever happened."""
    command = [
        sys.executable, "-m", "bench.meterfleet", "--count", str(count), "--rate", str(rate),
        "--first-address", first_address, "--tick", str(tick),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            yield Fleet(child, json.loads(_line(child.stdout)))
        finally:
            child.terminate()
            child.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--tick", type=float, default=5.0)
    parser.add_argument("--first-address", default="127.0.0.2")
    import uvloop

    uvloop.run(_serve(parser.parse_args()))
