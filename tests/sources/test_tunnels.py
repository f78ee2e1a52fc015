"""HTTP straight over port-forward WebSockets (`tunnels.Connector`) against the emulated API
server: requests reach a pod's loopback-only listener with no local socket, TLS to the pod
runs inside the tunnel, connections are kept alive, and every refusal is named."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme

from license_report.api import errors
from license_report.sources import portforward, tunnels
from license_report_sandbox import kubeapi, loopback

#: A forwarded pod's URL names the pod: the connector never looks the host up.
URL = f"http://kong-1.kong.portforward.invalid:{loopback.ADMIN_PORT}"


@pytest.fixture
async def pool(api: kubeapi.KubeAPI) -> AsyncIterator[tunnels.Pool]:
    async with tunnels.Pool(
        connection=portforward.Connection(configuration=api.configuration())
    ) as pool:
        yield pool


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def _server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kong-admin.test").configure_cert(context)
    return context


async def _opened(pool: tunnels.Pool, pod: str = "kong-1") -> tunnels.Connector:
    connector = pool.connector(namespace="kong", pod=pod, port=loopback.ADMIN_PORT)
    await connector.open()
    return connector


def _portforwards(api: kubeapi.KubeAPI) -> int:
    return len([r for r in api.requests if r.path.endswith("/portforward")])


async def test_keep_alive_requests_reach_the_loopback_listener_on_one_websocket(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    async with loopback.loopback_pod(api):
        connector = await _opened(pool)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(5):
                async with http.get(URL + "/hello") as response:
                    assert response.status == 200
                    assert await response.text() == f"hello from {loopback.LOOPBACK_HOST}"
        assert connector.websockets == 1
        assert connector.failure is None
    assert _portforwards(api) == 1


async def test_a_pools_connectors_open_nothing_until_asked_and_close_with_their_session(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    async with loopback.loopback_pod(api):
        connectors = [
            pool.connector(namespace="kong", pod="kong-1", port=loopback.ADMIN_PORT)
            for _ in range(3)
        ]
        assert _portforwards(api) == 0
        await connectors[0].open()
        async with (
            aiohttp.ClientSession(connector=connectors[0]) as http,
            http.get(URL + "/hello") as response,
        ):
            assert response.status == 200
        assert connectors[0].closed
    assert _portforwards(api) == 1


async def test_concurrent_requests_open_at_most_the_limit_of_websockets(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    count = 20
    async with loopback.loopback_pod(api):
        connector = await _opened(pool)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one(index: int) -> bytes:
                body = f"request {index}".encode() * 100
                async with http.post(URL + "/echo", data=body) as response:
                    assert response.status == 200
                    return await response.read()

            answers = await asyncio.gather(*(one(index) for index in range(count)))
        assert answers == [f"request {index}".encode() * 100 for index in range(count)]
        assert connector.websockets == tunnels.LIMIT


async def test_large_bodies_cross_both_ways_intact_in_plain_http_and_in_tls(
    api: kubeapi.KubeAPI, pool: tunnels.Pool, ca: trustme.CA
) -> None:
    """Bodies far above the client's read buffer: the tunnel pauses and resumes reading as
    aiohttp asks, and no chunk is lost or reordered."""
    upload = os.urandom(6 * 1024 * 1024)
    size = 12 * 1024 * 1024 + 7
    client = ssl.create_default_context()
    ca.configure_trust(client)
    for scheme, server, name in (
        ("http", None, None),
        ("https", _server_tls(ca), "kong-admin.test"),
    ):
        url = URL.replace("http:", f"{scheme}:")
        async with loopback.loopback_pod(api, ssl_context=server):
            connector = await _opened(pool)
            async with aiohttp.ClientSession(connector=connector) as http:
                async with http.post(
                    url + "/echo", data=io.BytesIO(upload), ssl=client, server_hostname=name
                ) as response:
                    assert response.headers["X-Sha256"] == hashlib.sha256(upload).hexdigest()
                    assert await response.read() == upload
                async with http.get(
                    url + f"/bytes/{size}", ssl=client, server_hostname=name
                ) as response:
                    assert await response.read() == loopback.pattern(size)
            assert connector.websockets == 1


async def test_tls_to_the_pod_is_verified_inside_the_tunnel(
    api: kubeapi.KubeAPI, pool: tunnels.Pool, ca: trustme.CA
) -> None:
    url = URL.replace("http:", "https:") + "/hello"
    async with loopback.loopback_pod(api, ssl_context=_server_tls(ca)):
        # Trusting the pod's CA, with the name its certificate carries: the answer is read.
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        connector = await _opened(pool)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(url, ssl=trusted, server_hostname="kong-admin.test") as response:
                assert await response.text() == f"hello from {loopback.LOOPBACK_HOST}"

            # The URL's own host when no name is given and the context checks names: the
            # certificate does not name the pod's forward, and the handshake says so.
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match="Hostname mismatch"):
                await http.get(url, ssl=trusted)
        # Another CA: refused, not read.
        connector = await _opened(pool)
        async with aiohttp.ClientSession(connector=connector) as http:
            with pytest.raises(
                aiohttp.ClientConnectorCertificateError, match="unable to get local issuer"
            ):
                await http.get(
                    url, ssl=ssl.create_default_context(), server_hostname="kong-admin.test"
                )


async def test_nothing_listening_in_the_pod_is_named_with_the_kubelets_message(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    api.put(kubeapi.make_pod("kong-1", "kong", ip=loopback.POD_IP, node_name="node-1"))
    connector = await _opened(pool)
    async with aiohttp.ClientSession(connector=connector) as http:
        with pytest.raises((aiohttp.ClientError, OSError)):
            await http.get(URL + "/hello")
    assert connector.failure is not None
    assert connector.failure.reason == errors.Reason.CONNECTION_REFUSED
    assert f"nothing listens on port {loopback.ADMIN_PORT}" in connector.failure.message


async def test_refusals_are_raised_when_opening(api: kubeapi.KubeAPI, pool: tunnels.Pool) -> None:
    with pytest.raises(portforward.PortForwardError) as gone:
        await _opened(pool, pod="kong-gone")
    assert gone.value.reason == errors.Reason.POD_GONE

    api.put(kubeapi.make_pod("kong-1", "kong", ip=loopback.POD_IP, node_name="node-1"))
    api.pod_network.forbid("kong")
    with pytest.raises(portforward.PortForwardError) as forbidden:
        await _opened(pool)
    assert forbidden.value.reason == errors.Reason.PORT_FORWARD_FORBIDDEN


async def test_a_pod_deleted_while_forwarded_is_named_gone_on_the_next_connection(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    async with loopback.loopback_pod(api):
        connector = await _opened(pool)
        async with aiohttp.ClientSession(connector=connector) as http:
            # Not kept alive: the next request needs a new connection, a new WebSocket.
            close = {"Connection": "close"}
            async with http.get(URL + "/hello", headers=close) as response:
                assert response.status == 200
            api.delete("v1", "Pod", "kong-1", "kong")
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.get(URL + "/hello")
        assert connector.failure is not None
        assert connector.failure.reason == errors.Reason.POD_GONE


async def test_closing_mid_body_ends_the_request_and_leaves_no_task(
    api: kubeapi.KubeAPI, pool: tunnels.Pool
) -> None:
    """An endless body cut by the session's close: the read ends with an error, the
    WebSocket closes, and no task is left (the autouse fixture checks)."""
    async with loopback.loopback_pod(api):
        connector = await _opened(pool)
        http = aiohttp.ClientSession(connector=connector)
        response = await http.get(URL + "/stream")
        assert len(await response.content.readexactly(10_000)) == 10_000
        await http.close()
        # aiohttp's own words for a body whose connection its session closed.
        with pytest.raises(RuntimeError, match="Connection closed"):
            await response.content.read()
        response.close()
