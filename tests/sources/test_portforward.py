"""The port-forward client against the emulated API server: requests reach a pod's loopback-only
listener through ``pods/portforward``, and every refusal is named."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import kubernetes.client
import pytest

from license_report.api import errors
from license_report.sources import portforward
from license_report_sandbox import kubeapi, loopback


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The Admin API client's side: aiohttp with keep-alive, as the Kong client uses it."""
    async with aiohttp.ClientSession() as session:
        yield session


def _connection(api: kubeapi.KubeAPI) -> portforward.Connection:
    return portforward.Connection(configuration=api.configuration())


def _forwarder(
    api: kubeapi.KubeAPI, *, pod: str = "kong-1", port: int = loopback.ADMIN_PORT
) -> portforward.Forwarder:
    return portforward.Forwarder(connection=_connection(api), namespace="kong", pod=pod, port=port)


def _refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


async def test_a_request_reaches_the_pods_loopback_listener_that_its_ip_does_not_serve(
    api: kubeapi.KubeAPI,
    http: aiohttp.ClientSession,
) -> None:
    async with loopback.loopback_pod(api) as real_port, _forwarder(api) as forwarder:
        async with http.get(forwarder.url() + "/hello") as response:
            assert response.status == 200
            assert await response.text() == f"hello from {loopback.LOOPBACK_HOST}"
        # The pod IP serves neither the pod's admin port nor the listener's real one.
        assert _refused(loopback.POD_IP, loopback.ADMIN_PORT)
        assert _refused(loopback.POD_IP, real_port)
        assert forwarder.address[0] == "127.0.0.1"
    assert [r.path for r in api.requests if r.path.endswith("/portforward")] == [
        "/api/v1/namespaces/kong/pods/kong-1/portforward"
    ]


async def test_keep_alive_requests_share_one_websocket(
    api: kubeapi.KubeAPI, http: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(api), _forwarder(api) as forwarder:
        for _ in range(5):
            async with http.get(forwarder.url() + "/hello") as response:
                assert response.status == 200
                await response.read()
        assert forwarder.websockets == 1


async def test_each_tcp_connection_gets_its_own_websocket_under_concurrency(
    api: kubeapi.KubeAPI,
    http: aiohttp.ClientSession,
) -> None:
    count = 60
    async with loopback.loopback_pod(api), _forwarder(api) as forwarder:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one(index: int) -> bytes:
                body = f"request {index}".encode() * 100
                async with http.post(forwarder.url() + "/echo", data=body) as response:
                    assert response.status == 200
                    return await response.read()

            answers = await asyncio.gather(*(one(index) for index in range(count)))
        assert answers == [f"request {index}".encode() * 100 for index in range(count)]
        assert forwarder.websockets == count


async def test_later_websockets_resume_the_api_servers_tls_session(api: kubeapi.KubeAPI) -> None:
    """A pod per WebSocket is a TLS connection to the API server per pod: all but the first of a
    connection's resume the session (the server's ticket), sparing both sides the certificates."""
    connection = _connection(api)
    target = portforward.Target(namespace="kong", pod="kong-1", port=loopback.ADMIN_PORT)
    reused: list[bool] = []
    async with loopback.loopback_pod(api), portforward.session() as http:
        for _ in range(3):
            ws = await portforward.open_websocket(http=http, connection=connection, target=target)
            reused.append(ws.get_extra_info("ssl_object").session_reused)
            await ws.close()
    assert reused == [False, True, True]


async def test_large_bodies_cross_both_ways_intact(
    api: kubeapi.KubeAPI, http: aiohttp.ClientSession
) -> None:
    upload = os.urandom(12 * 1024 * 1024)
    size = 20 * 1024 * 1024 + 7
    async with loopback.loopback_pod(api), _forwarder(api) as forwarder:
        async with http.post(forwarder.url() + "/echo", data=io.BytesIO(upload)) as response:
            assert response.headers["X-Sha256"] == hashlib.sha256(upload).hexdigest()
            assert await response.read() == upload
        async with http.get(forwarder.url() + f"/bytes/{size}") as response:
            assert await response.read() == loopback.pattern(size)


async def test_403_names_the_missing_permission_and_is_not_retried(api: kubeapi.KubeAPI) -> None:
    api.pod_network.forbid("kong")
    async with loopback.loopback_pod(api):
        with pytest.raises(portforward.PortForwardError) as caught:
            await _forwarder(api).__aenter__()
    assert caught.value.reason == errors.Reason.PORT_FORWARD_FORBIDDEN
    assert caught.value.status == 403
    assert not caught.value.transient
    assert "`create` `pods/portforward` in namespace kong" in caught.value.message


async def test_a_pod_that_does_not_exist_is_named_gone(api: kubeapi.KubeAPI) -> None:
    with pytest.raises(portforward.PortForwardError) as caught:
        await _forwarder(api, pod="kong-gone").__aenter__()
    assert caught.value.reason == errors.Reason.POD_GONE
    assert "kong/kong-gone" in caught.value.message


async def test_a_pod_deleted_while_forwarded_is_named_gone_on_the_next_connection(
    api: kubeapi.KubeAPI,
    http: aiohttp.ClientSession,
) -> None:
    async with loopback.loopback_pod(api), _forwarder(api) as forwarder:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(forwarder.url() + "/hello") as response:
                assert response.status == 200
            api.delete("v1", "Pod", "kong-1", "kong")
            with pytest.raises(aiohttp.ClientError):
                async with http.get(forwarder.url() + "/hello") as response:
                    await response.read()
        assert forwarder.failure is not None
        assert forwarder.failure.reason == errors.Reason.POD_GONE


async def test_nothing_listening_is_named_with_the_kubelets_message(
    api: kubeapi.KubeAPI, http: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(api), _forwarder(api, port=9999) as forwarder:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(forwarder.url() + "/hello") as response:
                await response.read()
        assert forwarder.failure is not None
        assert forwarder.failure.reason == errors.Reason.CONNECTION_REFUSED
        assert "nothing listens on port 9999 in pod kong/kong-1" in forwarder.failure.message
        assert "error forwarding port 9999" in forwarder.failure.message


async def test_a_pod_that_is_not_running_is_refused_before_the_upgrade(
    api: kubeapi.KubeAPI,
) -> None:
    api.put(kubeapi.make_pod("kong-1", "kong", ip=None, node_name="node-1", phase="Pending"))
    with pytest.raises(portforward.PortForwardError) as caught:
        await _forwarder(api).__aenter__()
    assert caught.value.reason == errors.Reason.PORT_FORWARD_FAILED
    assert caught.value.status == 500
    assert caught.value.transient


async def test_an_unreachable_api_server_is_named_and_transient(api: kubeapi.KubeAPI) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        configuration = api.configuration()
        configuration.host = f"https://127.0.0.1:{port}"
        forwarder = portforward.Forwarder(
            connection=portforward.Connection(configuration=configuration),
            namespace="kong",
            pod="kong-1",
            port=loopback.ADMIN_PORT,
        )
        with pytest.raises(portforward.PortForwardError) as caught:
            await forwarder.__aenter__()
    assert caught.value.reason == errors.Reason.API_SERVER_UNREACHABLE
    assert caught.value.transient
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_an_api_server_that_never_answers_is_unreachable_after_the_timeout(
    api: kubeapi.KubeAPI,
) -> None:
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(
        lambda _reader, writer: accepted.append(writer), host="127.0.0.1", port=0
    )
    try:
        configuration = api.configuration()
        configuration.host = f"https://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
        forwarder = portforward.Forwarder(
            connection=portforward.Connection(configuration=configuration, timeout=0.3),
            namespace="kong",
            pod="kong-1",
            port=loopback.ADMIN_PORT,
        )
        with pytest.raises(portforward.PortForwardError) as caught:
            await forwarder.__aenter__()
    finally:
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert accepted  # it was reached, and said nothing
    assert caught.value.reason == errors.Reason.API_SERVER_UNREACHABLE


async def test_credentials_are_the_clients_own_refreshed_as_in_cluster_and_read_again_on_401(
    api: kubeapi.KubeAPI,
    http: aiohttp.ClientSession,
) -> None:
    """The in-cluster config re-reads the token file through ``refresh_api_key_hook``; a
    configuration whose token only that hook supplies still authenticates each WebSocket. The
    headers serve several WebSockets (the hook runs in a thread), until a 401."""
    assert api.token is not None
    token = api.token
    configuration = api.configuration()
    configuration.api_key = {"authorization": "stale"}
    refreshed: list[str] = []

    def refresh(config: kubernetes.client.Configuration) -> None:
        config.api_key = {"authorization": token}
        refreshed.append(token)

    configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]  # typed as None
    async with loopback.loopback_pod(api):
        connection = portforward.Connection(configuration=configuration)
        for _ in range(3):
            forwarder = portforward.Forwarder(
                connection=connection, namespace="kong", pod="kong-1", port=loopback.ADMIN_PORT
            )
            async with forwarder, http.get(forwarder.url() + "/hello") as response:
                assert response.status == 200
        assert refreshed == [token]  # once for the three WebSockets

        configuration.refresh_api_key_hook = None
        configuration.api_key = {"authorization": "wrong"}
        refused = portforward.Connection(configuration=configuration)
        with pytest.raises(portforward.PortForwardError) as caught:
            await portforward.Forwarder(
                connection=refused, namespace="kong", pod="kong-1", port=loopback.ADMIN_PORT
            ).__aenter__()
        assert caught.value.status == 401
        assert caught.value.reason == errors.Reason.API_ERROR

        # The 401 dropped the headers: the next WebSocket reads the (now right) token again.
        configuration.api_key = {"authorization": token}
        async with portforward.Forwarder(
            connection=refused, namespace="kong", pod="kong-1", port=loopback.ADMIN_PORT
        ):
            pass


async def test_closing_mid_transfer_ends_the_local_connection_and_leaves_no_task(
    api: kubeapi.KubeAPI,
) -> None:
    async with loopback.loopback_pod(api):
        forwarder = _forwarder(api)
        async with forwarder:
            reader, writer = await asyncio.open_connection(*forwarder.address)
            writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            await reader.readexactly(10_000)  # the body is flowing
        # The forwarder's exit closed the local end of an endless body: EOF comes.
        await asyncio.wait_for(reader.read(), timeout=5)
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
