"""The emulator's ``pods/portforward`` as the kubelet serves it, cross-checked with an independent
client (the ``kubernetes`` package's ``stream.portforward``, in a thread) and raw WebSockets."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
from typing import Any

import aiohttp
import kubernetes.client
import kubernetes.stream
import pytest

from license_report_sandbox import kubeapi, loopback

PATH = "/api/v1/namespaces/kong/pods/kong-1/portforward"


def _close(forwarded: Any) -> None:
    """Close the local sockets, then join the client's proxy thread, which closes its WebSocket
    once it sees them closed: no socket may outlive the test."""
    proxies = [t for t in threading.enumerate() if t.name.startswith("Kubernetes port forward")]
    forwarded.close()
    for thread in proxies:
        thread.join(timeout=10)
        assert not thread.is_alive()
    # When the server closes first, the thread returns without closing its socket (its bug).
    forwarded.websocket.shutdown()


def _http_get(sock: Any, path: str) -> bytes:
    """A blocking HTTP/1.0 GET over a socket, read to its end."""
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def test_the_kubernetes_client_reaches_the_loopback_listener_and_reads_kubelet_errors(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    async with loopback.loopback_pod(cluster):

        def forward() -> tuple[bytes, bytes, str | None]:
            # Two ports in one WebSocket: 8444 is the loopback listener, 8001 has nothing.
            forwarded = kubernetes.stream.portforward(
                core.connect_get_namespaced_pod_portforward,
                "kong-1",
                "kong",
                ports=f"{loopback.ADMIN_PORT},8001",
            )
            try:
                answer = _http_get(forwarded.socket(loopback.ADMIN_PORT), "/hello")
                nothing = forwarded.socket(8001).recv(100)
                return answer, nothing, forwarded.error(8001)
            finally:
                _close(forwarded)

        answer, nothing, error = await asyncio.to_thread(forward)
    assert answer.startswith(b"HTTP/1.0 200 OK")
    assert answer.endswith(f"hello from {loopback.LOOPBACK_HOST}".encode())
    assert nothing == b""
    assert error is not None
    assert error.startswith("error forwarding port 8001 to pod ")
    assert "dial tcp4 127.0.0.1:8001: connect: connection refused" in error
    assert cluster.requests[-1].path == PATH
    assert cluster.requests[-1].query == f"ports={loopback.ADMIN_PORT},8001"


async def test_the_pod_ip_has_no_admin_port_while_the_forward_reaches_it(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    async with loopback.loopback_pod(cluster) as real_port:
        pod = await asyncio.to_thread(core.read_namespaced_pod, "kong-1", "kong")
        assert pod.status is not None
        assert pod.status.pod_ip == loopback.POD_IP
        for port in (loopback.ADMIN_PORT, real_port):
            with socket.socket() as sock:
                assert sock.connect_ex((loopback.POD_IP, port)) != 0

        def forward() -> bytes:
            forwarded = kubernetes.stream.portforward(
                core.connect_get_namespaced_pod_portforward,
                "kong-1",
                "kong",
                ports=str(loopback.ADMIN_PORT),
            )
            try:
                return _http_get(forwarded.socket(loopback.ADMIN_PORT), "/hello")
            finally:
                _close(forwarded)

        assert (await asyncio.to_thread(forward)).startswith(b"HTTP/1.0 200 OK")


async def test_a_port_the_pod_serves_on_its_ip_is_dialled_there(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    """No loopback listener registered for the port: the kubelet's dial lands on the pod's
    own interfaces, its IP among them."""
    async with loopback.listener(host=loopback.POD_IP) as port:
        cluster.put(kubeapi.make_pod("kong-1", "kong", ip=loopback.POD_IP, node_name="node-1"))
        async with _ws(cluster, session, ports=str(port)) as ws:
            assert await _frames(ws, 2) == [b"\x00" + _le(port), b"\x01" + _le(port)]
            await ws.send_bytes(b"\x00GET /hello HTTP/1.0\r\nHost: pod\r\n\r\n")
            body = b"".join(frame[1:] for frame in await _until_closed(ws))
    assert body.endswith(f"hello from {loopback.POD_IP}".encode())


def _le(port: int) -> bytes:
    return port.to_bytes(2, "little")


def _ws(
    cluster: kubeapi.KubeAPI,
    session: aiohttp.ClientSession,
    *,
    ports: str | list[str],
    protocols: tuple[str, ...] = ("v4.channel.k8s.io",),
    pod: str = "kong-1",
) -> Any:
    params = [("ports", value) for value in ([ports] if isinstance(ports, str) else ports)]
    return session.ws_connect(
        f"{cluster.url}/api/v1/namespaces/kong/pods/{pod}/portforward",
        params=params,
        protocols=protocols,
        headers={"Authorization": f"Bearer {cluster.token}"},
        ssl=_tls(cluster),
    )


def _tls(cluster: kubeapi.KubeAPI) -> ssl.SSLContext:
    assert cluster.ca_path is not None
    return ssl.create_default_context(cafile=str(cluster.ca_path))


async def _frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    return [(await ws.receive()).data for _ in range(count)]


async def _until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[Any]:
    return [message.data async for message in ws]


async def test_two_ports_get_channels_in_order_each_opened_by_its_port_frame(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(cluster) as real_port:
        cluster.pod_network.listen("kong", "kong-1", {8001: (loopback.LOOPBACK_HOST, real_port)})
        async with _ws(cluster, session, ports=["8444", "8001"]) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            first = await _frames(ws, 4)
            assert first == [b"\x00\xfc\x20", b"\x01\xfc\x20", b"\x02\x41\x1f", b"\x03\x41\x1f"]
            await ws.send_bytes(
                b"\x02GET /hello HTTP/1.0\r\nHost: pod\r\n\r\n"
            )  # port 8001's data channel
            answer = b""
            while not answer.endswith(loopback.LOOPBACK_HOST.encode()):
                frame = (await ws.receive()).data
                assert frame[0] == 2
                answer += frame[1:]
    assert answer.startswith(b"HTTP/1.0 200 OK")


async def test_base64_subprotocol_uses_text_frames_and_no_subprotocol_binary(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(cluster):
        async with _ws(
            cluster,
            session,
            ports="8444",
            protocols=("v5.channel.k8s.io", "v4.base64.channel.k8s.io"),
        ) as ws:
            assert ws.protocol == "v4.base64.channel.k8s.io"
            assert await _frames(ws, 2) == ["0" + base64.b64encode(_le(8444)).decode(), "1/CA="]
            request = base64.b64encode(b"GET /hello HTTP/1.0\r\nHost: pod\r\n\r\n").decode()
            await ws.send_str("0" + request)
            answer = b"".join(base64.b64decode(text[1:]) for text in await _until_closed(ws))
        assert answer.endswith(loopback.LOOPBACK_HOST.encode())
        async with _ws(cluster, session, ports="8444", protocols=()) as ws:
            assert ws.protocol is None
            assert await _frames(ws, 2) == [b"\x00" + _le(8444), b"\x01" + _le(8444)]


@pytest.mark.parametrize(
    ("setup", "kwargs", "status", "message"),
    [
        ("forbid", {}, 403, 'cannot create resource "pods/portforward" in API group ""'),
        ("none", {"pod": "kong-gone"}, 404, 'pods "kong-gone" not found'),
        ("unscheduled", {}, 400, "pod kong-1 does not have a host assigned"),
        ("pending", {}, 500, "is not running"),
        ("none", {"ports": "0"}, 400, 'port "0" must be > 0'),
        ("none", {"ports": "70000"}, 400, 'unable to parse "70000" as a port'),
        ("none", {"ports": ""}, 400, 'query parameter "ports" cannot be empty'),
        ("none", {"protocols": ("portforward.k8s.io",)}, 403, ""),
        ("none", {"protocols": ("channel.k8s.io",)}, 403, ""),
    ],
)
async def test_refusals_come_before_the_upgrade_as_the_api_server_and_kubelet_answer(
    cluster: kubeapi.KubeAPI,
    session: aiohttp.ClientSession,
    setup: str,
    kwargs: dict[str, Any],
    status: int,
    message: str,
) -> None:
    async with loopback.loopback_pod(cluster):
        if setup == "forbid":
            cluster.pod_network.forbid("kong")
        elif setup == "unscheduled":
            cluster.put(kubeapi.make_pod("kong-1", "kong", ip=loopback.POD_IP))
        elif setup == "pending":
            cluster.put(kubeapi.make_pod("kong-1", "kong", node_name="n", phase="Pending"))
        kwargs.setdefault("ports", "8444")
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with _ws(cluster, session, **kwargs):
                pass
        assert caught.value.status == status
        url = f"{cluster.url}/api/v1/namespaces/kong/pods/{kwargs.get('pod', 'kong-1')}/portforward"
        headers = {
            "Authorization": f"Bearer {cluster.token}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Protocol": ",".join(kwargs.get("protocols", ("v4.channel.k8s.io",))),
        }
        async with session.get(
            url, params={"ports": kwargs["ports"]}, headers=headers, ssl=_tls(cluster)
        ) as response:
            assert response.status == status
            if message:
                assert message in (await response.json())["message"]


async def test_without_the_token_the_upgrade_gets_401(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(cluster):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with session.ws_connect(
                f"{cluster.url}{PATH}?ports=8444",
                protocols=("v4.channel.k8s.io",),
                ssl=_tls(cluster),
            ):
                pass
    assert caught.value.status == 401


async def test_a_plain_get_is_not_an_upgrade(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    async with (
        loopback.loopback_pod(cluster),
        session.get(
            f"{cluster.url}{PATH}?ports=8444",
            headers={"Authorization": f"Bearer {cluster.token}"},
            ssl=_tls(cluster),
        ) as response,
    ):
        assert response.status == 400
        assert (await response.json())["reason"] == "BadRequest"


async def test_the_pod_closing_its_side_closes_the_websocket(
    cluster: kubeapi.KubeAPI, session: aiohttp.ClientSession
) -> None:
    async with loopback.loopback_pod(cluster), _ws(cluster, session, ports="8444") as ws:
        await _frames(ws, 2)
        await ws.send_bytes(b"\x00GET /hello HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
        frames = await _until_closed(ws)
        assert ws.closed
    assert b"".join(frame[1:] for frame in frames).endswith(loopback.LOOPBACK_HOST.encode())
