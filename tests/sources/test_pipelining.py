"""A forwarded node's three requests sent at once on one connection (HTTP/1.1 pipelining):
answered in order, in plain HTTP and in TLS; a server that closes early gets the rest asked
in turn; bodies too large or not HTTP are named."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import trustme

from license_report.api import errors
from license_report.report import aggregation, models
from license_report.sources import kong, portforward, tunnels
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, loopback
from tests.helpers.fleets import FleetFactory

PORT = 8444
PATHS = ("/", "/status", "/license/report")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def bodies(fleet: FleetFactory) -> dict[str, bytes]:
    """What a simulated Kong node answers to the three, for the raw servers below to repeat."""
    node = sim.SimNode(name="gw-1", mode=sim.Mode.EE_DBLESS, services=3, counters={"2026-11": 5})
    async with fleet([node]) as running, aiohttp.ClientSession() as http:
        (started,) = running.nodes
        answers = {}
        for path in PATHS:
            async with http.get(f"http://{started.address}:{running.port}{path}") as response:
                assert response.status == 200
                answers[path] = await response.read()
        return answers


def _answer(body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if close:
        head += "Connection: close\r\n"
    if not chunked:
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    half = len(body) // 2
    chunks = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
    )
    return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"


async def _requests(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    return [await reader.readuntil(b"\r\n\r\n") for _ in range(count)]


@contextlib.asynccontextmanager
async def _pod(
    api: kubeapi.KubeAPI, handler: Handler, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[None]:
    """Pod gw-1 whose loopback port 8444 is ``handler``, a raw server (TLS with ``tls``)."""
    server = await asyncio.start_server(handler, loopback.LOOPBACK_HOST, 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    api.put(kubeapi.make_pod("gw-1", "kong", ip=loopback.POD_IP, node_name="node-1"))
    api.pod_network.listen("kong", "gw-1", {PORT: (loopback.LOOPBACK_HOST, port)})
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


async def _fetch(
    api: kubeapi.KubeAPI, *, scheme: str = "http", token: str | None = None, max_body: int = 10**6
) -> tuple[aggregation.NodeObservation, list[tunnels.Connector]]:
    url = f"{scheme}://gw-1.kong.portforward.invalid:{PORT}"
    opened: list[tunnels.Connector] = []
    connection = portforward.Connection(configuration=api.configuration())
    async with tunnels.Pool(connection=connection) as pool:

        def forward() -> tunnels.Connector:
            opened.append(pool.connector(namespace="kong", pod="gw-1", port=PORT))
            return opened[-1]

        route = kong.Route(tls=kong.tls_context(insecure=True), forward=forward)
        settings = kong.ClientSettings(
            timeout=5.0,
            routes={url: route},
            token=token,
            allow_token_over_http=True,
            max_body_bytes=max_body,
        )
        async with kong.new_session(settings) as session:
            observation = await kong.fetch_node(
                session=session, target=models.Target(name="gw-1", url=url), settings=settings
            )
    return observation, opened


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_the_three_are_sent_together_and_answered_in_order(
    api: kubeapi.KubeAPI, bodies: dict[str, bytes], scheme: str
) -> None:
    """The server answers nothing until all three requests have come: a client that waited
    for each answer before the next request would time out."""
    seen: list[bytes] = []

    async def together(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.extend(await _requests(reader, 3))
        writer.write(_answer(bodies["/"]) + _answer(bodies["/status"], chunked=True))
        writer.write(_answer(bodies["/license/report"]))
        await writer.drain()
        writer.close()

    tls = None
    if scheme == "https":
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("localhost").configure_cert(tls)
    async with _pod(api, together, tls=tls):
        observation, opened = await _fetch(api, scheme=scheme, token="t0ken")
    assert observation.license_report is not None
    assert [request.split(b" ")[1] for request in seen] == [path.encode() for path in PATHS]
    assert all(b"Kong-Admin-Token: t0ken\r\n" in request for request in seen)
    assert all(b"Host: gw-1.kong.portforward.invalid:8444\r\n" in request for request in seen)
    assert [connector.websockets for connector in opened] == [1]


async def test_answers_owed_when_the_server_closes_are_asked_again_in_turn(
    api: kubeapi.KubeAPI, bodies: dict[str, bytes]
) -> None:
    """A server that closes after its first answer (as one may at its keep-alive limit): the
    other two are asked again, one at a time, on a new connection of the same forward."""
    connections: list[list[bytes]] = []

    async def closing_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked: list[bytes] = []
        connections.append(asked)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (request,) = await _requests(reader, 1)
                asked.append(request.split(b" ")[1])
                path = request.split(b" ")[1].decode()
                first = len(connections) == 1
                writer.write(_answer(bodies[path], close=first))
                await writer.drain()
                if first:
                    break
        writer.close()

    async with _pod(api, closing_first):
        observation, opened = await _fetch(api)
    assert observation.license_report is not None
    assert connections[0][0] == b"/"
    assert connections[1:] == [[b"/status", b"/license/report"]]
    assert [connector.websockets for connector in opened] == [2]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000, "BodyTooLarge"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "BadResponse"),
    ],
)
async def test_a_body_too_large_or_not_http_is_named(
    api: kubeapi.KubeAPI, answer: bytes, reason: str
) -> None:
    async def odd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await _requests(reader, 3)
            writer.write(answer)
            await writer.drain()
        writer.close()

    async with _pod(api, odd):
        with pytest.raises(kong.NodeError) as caught:
            await _fetch(api)
    assert caught.value.reason == errors.Reason(reason)
    assert caught.value.message.startswith("GET /: ")
