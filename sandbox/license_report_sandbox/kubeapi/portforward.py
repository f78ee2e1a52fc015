"""``pods/portforward`` over WebSocket: the API server's checks, then the kubelet's relay.

Written from the kubelet's source, kubernetes/kubernetes at
``0d1821e39bfbaeb9a79e01785fc59f702ef6e5f5:pkg/kubelet/cri/streaming/portforward/websocket.go``
(``NewV4Options``, ``handleWebSocketStreams``, ``portForward``) and
``04791b4906602ffda5ccf9bc4c84d3329f1d7080:staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go``
(the channel framing and the subprotocol handshake). What a client sees:

- ``GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=P1&ports=P2`` (a value may
  also be ``P1,P2``) with ``Upgrade: websocket``. The subprotocols the kubelet accepts
  for WebSocket port-forward are ``v4.channel.k8s.io`` (binary frames),
  ``v4.base64.channel.k8s.io`` (text frames: ``'0'+channel`` then base64) and none at
  all (binary); the first one the client offers that is accepted wins, and a client
  offering only others is refused with 403 (``golang.org/x/net/websocket``'s answer to
  a failed handshake). ``portforward.k8s.io`` is the SPDY protocol, not served here;
  ``channel.k8s.io`` without ``v4.`` is exec's, not port-forward's. The ``kubernetes``
  Python client offers ``v5.channel.k8s.io,v4.channel.k8s.io`` and gets v4.
- Per requested port ``i``: channel ``2*i`` carries data both ways, ``2*i+1`` errors
  from the server. The first message on each channel is the channel byte and the
  port as a little-endian uint16 (three bytes); after that every message is the
  channel byte followed by payload.
- The kubelet then dials the port inside the pod's network namespace, and relays
  until either direction ends (containerd's ``portForward``); then the WebSocket
  closes. If the dial fails, the error channel carries ``error forwarding port P to
  pod ..., uid : failed to connect to localhost:P inside namespace ...`` and the
  WebSocket closes.
- Before the upgrade the API server answers as it would: 403 when RBAC denies
  ``create`` on ``pods/portforward`` (see `PodNetwork.forbid`), 404 for a pod that
  does not exist, 400 for a pod with no node or a bad ``ports`` value or a request
  that is not a WebSocket upgrade (the SPDY path is not served), 500 when the pod's
  sandbox is not running (phase not ``Running``, or no pod IP).

"Inside the pod's network namespace" means two kinds of listener here: the
pod's loopback listeners (real Kong binds its Admin API to 127.0.0.1 and ::1),
which live on an address the Pod object never shows and are registered with
`PodNetwork.listen`; and listeners on the pod's IP (``status.podIP``), which
anyone can reach anyway. A registered loopback listener wins for its port.
Nothing is opened up front: a socket to the pod exists only while a forward
uses it, so 10,000 pods cost a dictionary, not 10,000 descriptors (several pods
may even share one listener that tells them apart by the address dialled).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import kmock
from aiohttp import web

from license_report_sandbox.kubeapi import errors, store

PATH = re.compile(r"^/api/v1/namespaces/(?P<namespace>[^/]+)/pods/(?P<name>[^/]+)/portforward/?$")

V4_BINARY = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
#: What the kubelet's ``wsstream.NewConn`` is given for port-forward ("" = no subprotocol).
PROTOCOLS = ("", V4_BINARY, V4_BASE64)

#: How much the kubelet side reads from the pod at a time (one WebSocket message at most).
CHUNK = 64 * 1024

Address = tuple[str, int]


@dataclasses.dataclass
class PodNetwork:
    """What the emulated kubelets can dial, and who may ask them (set by a test or the sandbox)."""

    #: The user a 403 names, as the API server's authorizer does.
    user: str = "system:serviceaccount:license-report:license-report-operator"
    _loopback: dict[tuple[str, str], dict[int, Address]] = dataclasses.field(default_factory=dict)
    _forbidden: set[str] = dataclasses.field(default_factory=set)

    def listen(self, namespace: str, name: str, ports: Mapping[int, Address]) -> None:
        """Declare pod ``namespace/name``'s loopback listeners: its port -> where it really listens.

        The address should be one the Pod object never shows (127.1.x.y, say), so
        that only a port-forward reaches it, as only a port-forward reaches a real
        pod's 127.0.0.1.
        """
        self._loopback.setdefault((namespace, name), {}).update(ports)

    def forget(self, namespace: str, name: str) -> None:
        self._loopback.pop((namespace, name), None)

    def forbid(self, namespace: str) -> None:
        """RBAC: from now on ``create`` on ``pods/portforward`` is denied in ``namespace``."""
        self._forbidden.add(namespace)

    def allow(self, namespace: str) -> None:
        self._forbidden.discard(namespace)

    def forbidden(self, namespace: str) -> bool:
        return namespace in self._forbidden

    def target(self, pod: Mapping[str, Any], port: int) -> Address:
        """Where the kubelet's dial of ``localhost:port`` inside ``pod`` lands."""
        meta = pod.get("metadata", {})
        registered = self._loopback.get((meta.get("namespace", ""), meta.get("name", "")), {})
        if port in registered:
            return registered[port]
        return str(pod.get("status", {}).get("podIP", "")), port


def _status(error: kmock.KubernetesError) -> web.Response:
    return web.json_response(errors.status_body(error), status=error.status)


def _bad_request(message: str) -> web.Response:
    return _status(errors.bad_request(message))


def parse_ports(values: Sequence[str]) -> list[int]:
    """``NewV4Options``: every ``ports`` value, each a comma-separated list of 1..65535."""
    if not values:
        raise ValueError('query parameter "ports" is required')
    ports = []
    for value in values:
        if not value:
            raise ValueError('query parameter "ports" cannot be empty')
        for text in value.split(","):
            try:
                port = int(text, 10)
            except ValueError:
                raise ValueError(f'unable to parse "{value}" as a port') from None
            if not text.isdigit() or port > 0xFFFF:
                raise ValueError(f'unable to parse "{value}" as a port')
            if port < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(port)
    return ports


def negotiate(offered: str) -> str | None:
    """``wsstream.handshake``: the first offered subprotocol the kubelet accepts (none offered
    means ""), or None when it accepts none of them."""
    protocols = [p.strip() for p in offered.split(",") if p.strip()] or [""]
    for protocol in protocols:
        if protocol in PROTOCOLS:
            return protocol
    return None


def _forbidden(network: PodNetwork, namespace: str, name: str) -> web.Response:
    why = (
        f'User "{network.user}" cannot create resource "pods/portforward" in API group ""'
        f' in the namespace "{namespace}"'
    )
    return web.json_response(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "code": 403,
            "reason": "Forbidden",
            "message": f'pods "{name}" is forbidden: {why}',
            "details": {"name": name, "kind": "pods"},
        },
        status=403,
    )


async def serve(
    request: web.BaseRequest, *, namespace: str, name: str, pods: store.Store, network: PodNetwork
) -> web.StreamResponse:
    """Answer one port-forward request: refuse it as the API server would, or relay."""
    if network.forbidden(namespace):
        return _forbidden(network, namespace, name)
    kind = pods.kind("", "v1", "pods")
    assert kind is not None
    try:
        pod = pods.get(kind, namespace, name)
    except kmock.KubernetesError as error:
        return _status(error)
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if request.method != "GET" or not upgrade:
        return _bad_request("Upgrade request required")  # the SPDY path is not served
    if not pod.get("spec", {}).get("nodeName"):
        return _bad_request(f"pod {name} does not have a host assigned")
    try:
        ports = parse_ports(request.query.getall("ports", []))
    except ValueError as error:
        return _bad_request(str(error))
    status = pod.get("status", {})
    sandbox = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()
    if status.get("phase") != "Running" or not status.get("podIP"):
        return _status(
            kmock.KubernetesError(
                status=500,
                reason="InternalError",
                message=f'error: sandbox container "{sandbox}" is not running',
                details={"causes": [{"message": "sandbox container is not running"}]},
            )
        )
    protocol = negotiate(request.headers.get("Sec-WebSocket-Protocol", ""))
    if protocol is None:
        return web.Response(status=403, text="requested protocol(s) are not supported")
    ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=0)
    await ws.prepare(request)
    try:
        await _Relay(ws=ws, base64=protocol == V4_BASE64, sandbox=sandbox).run(
            [(port, network.target(pod, port)) for port in ports]
        )
    finally:
        # The kubelet's ``conn.Close()`` closes the TCP connection with the WebSocket; aiohttp
        # would otherwise keep an upgraded connection whose peer went away without a close.
        if request.transport is not None:
            request.transport.close()
    return ws


@dataclasses.dataclass
class _Relay:
    """One WebSocket: a pod connection per port, relayed until either side ends."""

    ws: web.WebSocketResponse
    base64: bool
    sandbox: str

    async def send(self, channel: int, data: bytes) -> None:
        if self.base64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes((channel,)) + data)

    async def run(self, ports: list[tuple[int, Address]]) -> None:
        for index, (port, _) in enumerate(ports):
            header = port.to_bytes(2, "little")
            await self.send(2 * index, header)
            await self.send(2 * index + 1, header)
        inboxes: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
        forwards = [
            asyncio.ensure_future(self._forward(index, port, address, inboxes[index]))
            for index, (port, address) in enumerate(ports)
        ]
        reader = asyncio.ensure_future(self._read(inboxes))
        try:
            await asyncio.gather(*forwards)  # ``h.run()``: every port done
        finally:
            reader.cancel()
            for task in forwards:
                task.cancel()
            await asyncio.gather(reader, *forwards, return_exceptions=True)
            await self.ws.close()

    async def _read(self, inboxes: list[asyncio.Queue[bytes | None]]) -> None:
        """``Conn.handle``: client messages to their port's data channel; others dropped."""
        try:
            async for message in self.ws:
                if message.type == web.WSMsgType.BINARY:
                    data: bytes = message.data
                    if not data:
                        continue
                    channel, payload = data[0], data[1:]
                elif message.type == web.WSMsgType.TEXT and self.base64:
                    text: str = message.data
                    if not text:
                        continue
                    channel, payload = ord(text[0]) - ord("0"), base64.b64decode(text[1:])
                else:
                    continue
                if channel % 2 == 0 and channel // 2 < len(inboxes):
                    inboxes[channel // 2].put_nowait(payload)
        finally:
            for inbox in inboxes:
                inbox.put_nowait(None)  # the client is gone: every port ends

    async def _forward(
        self, index: int, port: int, address: Address, inbox: asyncio.Queue[bytes | None]
    ) -> None:
        """containerd's ``portForward``: dial, copy both ways, stop when either ends."""
        try:
            pod_reader, pod_writer = await asyncio.open_connection(*address)
        except OSError as error:
            # As Go prints a dial error: "connect: connection refused".
            why = os.strerror(error.errno) if error.errno else str(error)
            message = (
                f"error forwarding port {port} to pod {self.sandbox}, uid : failed to connect to"
                f' localhost:{port} inside namespace "{self.sandbox}", IPv4: dial tcp4'
                f" 127.0.0.1:{port}: connect: {why.lower()} IPv6 dial tcp6 [::1]:{port}:"
                f" connect: {why.lower()} "
            )
            await self.send(2 * index + 1, message.encode())
            return

        async def upstream() -> None:
            while (data := await inbox.get()) is not None:
                pod_writer.write(data)
                await pod_writer.drain()

        async def downstream() -> None:
            while data := await pod_reader.read(CHUNK):
                await self.send(2 * index, data)

        directions = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Closed before any await: a second cancellation (the handler's, then the relay's)
            # would otherwise skip it and leak the socket.
            pod_writer.close()
            for task in directions:
                task.cancel()
            await asyncio.gather(*directions, return_exceptions=True)


def route(path: str) -> tuple[str, str] | None:
    """(namespace, pod) when ``path`` is a pod's ``portforward`` subresource."""
    match = PATH.match(path)
    return None if match is None else (match["namespace"], match["name"])
