"""A pod's loopback-only listener for port-forward tests: a small HTTP server on an address
(127.1.0.x) that no Pod object shows, registered with the emulator's pod network."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator

from aiohttp import web

from license_report_sandbox import kubeapi

#: Where a simulated pod's loopback listeners live: never a pod IP (those are 127.0.0.x).
LOOPBACK_HOST = "127.1.0.1"
#: The pod IP the Pod object shows.
POD_IP = "127.0.0.2"
#: The pod port the Admin API listens on inside the pod (Kong chart: 127.0.0.1:8444).
ADMIN_PORT = 8444


def _app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        return web.Response(text=f"hello from {request.transport.get_extra_info('sockname')[0]}")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=body, headers={"X-Sha256": hashlib.sha256(body).hexdigest()})

    async def sized(request: web.Request) -> web.Response:
        size = int(request.match_info["size"])
        return web.Response(body=pattern(size))

    async def stream(request: web.Request) -> web.StreamResponse:
        """A body that never ends: the client (or a closed forward) decides when it stops."""
        response = web.StreamResponse()
        await response.prepare(request)
        while True:
            await response.write(pattern(1024))
            await asyncio.sleep(0.01)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/hello", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/bytes/{size}", sized)
    app.router.add_get("/stream", stream)
    return app


def pattern(size: int) -> bytes:
    """Bytes that differ from position to position, so a reordered or lost chunk shows."""
    block = bytes(range(251))  # a prime length: chunk boundaries never line up with it
    return (block * (size // len(block) + 1))[:size]


@contextlib.asynccontextmanager
async def listener(
    host: str = LOOPBACK_HOST, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Serve the test app on ``host`` and an ephemeral port (TLS with ``ssl_context``); yield
    the port."""
    runner = web.AppRunner(_app(), shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
        await site.start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def loopback_pod(
    api: kubeapi.KubeAPI,
    *,
    name: str = "kong-1",
    namespace: str = "kong",
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    """A running, scheduled pod at `POD_IP` whose Admin API listens on its loopback only
    (TLS with ``ssl_context``): `ADMIN_PORT` inside the pod is the listener's real port on
    `LOOPBACK_HOST`."""
    async with listener(ssl_context=ssl_context) as port:
        api.put(kubeapi.make_pod(name, namespace, ip=POD_IP, node_name="node-1"))
        api.pod_network.listen(namespace, name, {ADMIN_PORT: (LOOPBACK_HOST, port)})
        try:
            yield port
        finally:
            api.pod_network.forget(namespace, name)
