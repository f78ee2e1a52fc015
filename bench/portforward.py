"""Port-forward against the direct path: what the WebSocket costs, measured in one run.

Run: ``.venv/bin/python -m bench.portforward`` (``--requests``, ``--concurrency``, ``--pods``,
``--megabytes``). No target is asserted; the figures go to docs/benchmarks.md.

Everything runs in one process and one event loop, as the tests do: the
emulated API server (HTTPS, bearer token) with its kubelet side, the pods'
loopback listeners (a small aiohttp app on 127.1.0.x, which only the
port-forward reaches), and the client (aiohttp). So a forwarded request pays
both ends' CPU here, where in a cluster the API server and kubelet pay theirs
elsewhere; read the forwarded figures as an upper bound on the operator's side.
Forwarded twice: ``relay``, a `portforward.Forwarder`'s local listener relaying
each TCP connection to a WebSocket (what PostgreSQL clients use), and
``tunnel``, a `tunnels.Connector` speaking HTTP straight over the WebSocket
(what the Admin API client uses). Measured, each direct, relay and tunnel:

- latency: ``--requests`` small GETs one after another on one keep-alive connection
  (one WebSocket), median and 95th percentile;
- connections: ``--requests`` GETs, ``--concurrency`` at once, each on a new connection
  (so each forwarded one opens a WebSocket: the API server's handshake is in it);
- bulk: ``--megabytes`` down and up on one connection;
- pods: ``--pods`` pods, a forward each, opened for one GET and closed after it,
  ``--concurrency`` at once: what a collection run over that many loopback-only
  Admin APIs pays.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from license_report.sources import portforward, tunnels
from license_report_sandbox import kubeapi, loopback


async def _latency(http: aiohttp.ClientSession, base: str, count: int) -> dict[str, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        async with http.get(base + "/hello") as response:
            await response.read()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p95_ms": samples[int(len(samples) * 0.95) - 1] * 1000,
    }


async def _connections(http: aiohttp.ClientSession, base: str, count: int) -> dict[str, float]:
    """``count`` GETs on ``http``, whose connector closes every connection after its request."""

    async def one() -> None:
        async with http.get(base + "/hello") as response:
            await response.read()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "per_second": count / elapsed}


async def _bulk(http: aiohttp.ClientSession, base: str, megabytes: int) -> dict[str, float]:
    size = megabytes * 1024 * 1024
    started = time.perf_counter()
    async with http.get(base + f"/bytes/{size}") as response:
        assert len(await response.read()) == size
    down = time.perf_counter() - started
    upload = loopback.pattern(size)
    started = time.perf_counter()
    async with http.post(base + "/echo", data=io.BytesIO(upload)) as response:
        assert len(await response.read()) == size
    both = time.perf_counter() - started
    return {"down_MBps": megabytes / down, "echo_MBps": megabytes / both}


async def _timed(label: str, run: Callable[[], Awaitable[dict[str, float]]]) -> None:
    figures = await run()
    print(f"  {label:<10} " + "  ".join(f"{key} {value:,.2f}" for key, value in figures.items()))


async def main(*, requests: int, concurrency: int, pods: int, megabytes: int) -> None:
    async with kubeapi.serve() as api, loopback.listener() as port:
        direct = f"http://{loopback.LOOPBACK_HOST}:{port}"
        for index in range(pods):
            name = f"kong-{index}"
            api.put(kubeapi.make_pod(name, "kong", ip=loopback.POD_IP, node_name="node-1"))
            api.pod_network.listen(
                "kong", name, {loopback.ADMIN_PORT: (loopback.LOOPBACK_HOST, port)}
            )
        connection = portforward.Connection(configuration=api.configuration())
        tunneled = f"http://kong-0.kong.portforward.invalid:{loopback.ADMIN_PORT}"
        async with (
            portforward.session() as websockets,
            portforward.Forwarder(
                connection=connection, namespace="kong", pod="kong-0", port=loopback.ADMIN_PORT
            ) as forwarder,
        ):

            def tunnel(**options: Any) -> aiohttp.BaseConnector:
                return tunnels.Connector(
                    connection=connection,
                    http=websockets,
                    namespace="kong",
                    pod="kong-0",
                    port=loopback.ADMIN_PORT,
                    **options,
                )

            ways: list[tuple[str, str, Callable[..., aiohttp.BaseConnector]]] = [
                ("direct", direct, aiohttp.TCPConnector),
                ("relay", forwarder.url(), aiohttp.TCPConnector),
                ("tunnel", tunneled, tunnel),
            ]
            for label, base, connector in ways:
                print(label)
                async with aiohttp.ClientSession(connector=connector()) as http:
                    await _timed("latency", functools.partial(_latency, http, base, requests))
                    await _timed("bulk", functools.partial(_bulk, http, base, megabytes))
                closing = connector(limit=concurrency, force_close=True)
                async with aiohttp.ClientSession(connector=closing) as http:
                    await _timed(
                        "connections", functools.partial(_connections, http, base, requests)
                    )

            async def relay(index: int) -> None:
                async with (
                    portforward.Forwarder(
                        connection=connection,
                        namespace="kong",
                        pod=f"kong-{index}",
                        port=loopback.ADMIN_PORT,
                        http=websockets,
                    ) as forwarder,
                    aiohttp.ClientSession() as http,
                    http.get(forwarder.url() + "/hello") as response,
                ):
                    await response.read()

            async def tunnel_pod(index: int) -> None:
                connector = tunnels.Connector(
                    connection=connection,
                    http=websockets,
                    namespace="kong",
                    pod=f"kong-{index}",
                    port=loopback.ADMIN_PORT,
                )
                await connector.open()
                url = f"http://kong-{index}.kong.portforward.invalid:{loopback.ADMIN_PORT}/hello"
                async with (
                    aiohttp.ClientSession(connector=connector) as http,
                    http.get(url) as response,
                ):
                    await response.read()

            async def all_pods(ask: Callable[[int], Awaitable[None]]) -> dict[str, float]:
                waiting = iter(range(pods))

                async def worker() -> None:
                    for index in waiting:
                        await ask(index)

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return {"pods": pods, "seconds": time.perf_counter() - started}

            print(f"pods ({pods}, a forward each for one GET, {concurrency} at once)")
            await _timed("relay", functools.partial(all_pods, relay))
            await _timed("tunnel", functools.partial(all_pods, tunnel_pod))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(
        main(
            requests=args.requests,
            concurrency=args.concurrency,
            pods=args.pods,
            megabytes=args.megabytes,
        )
    )


if __name__ == "__main__":
    cli()
