"""Port-forward through the Kubernetes API: a local endpoint per pod port, for loopback Admin APIs.

Kong's chart binds the Admin API to the pod's 127.0.0.1 and ::1 by default: only
the kubelet, inside the pod's network namespace, can dial it. A `Forwarder`
listens on ``127.0.0.1:<ephemeral>`` and, for every TCP connection it accepts,
opens one WebSocket to the API server's ``pods/{pod}/portforward`` subresource
and relays bytes both ways, as ``kubectl port-forward`` does; so the Admin API
client is unchanged and talks to ``http(s)://127.0.0.1:<port>``, and its
keep-alive connection carries a node's several requests over one WebSocket.

The protocol is the kubelet's ``v4.channel.k8s.io`` (its
``pkg/kubelet/cri/streaming/portforward/websocket.go``): one port per WebSocket
here, so channel 0 carries data both ways and channel 1 the kubelet's errors;
the first message on each is the channel byte and the port as little-endian
uint16; every later one is the channel byte and payload.

Credentials are the operator's own, read from the ``kubernetes`` client's
``Configuration`` each time a WebSocket opens: the bearer token (through the
client's refresh hook: the in-cluster token is re-read as it rotates, a
kubeconfig's exec plugin re-run), the client certificate, the CA, and the TLS
server name and proxy if set. HTTP basic auth is not supported (removed from
Kubernetes in 1.19).

Failures are `PortForwardError`, each with its reason: the operator may not
``create`` ``pods/portforward`` there (403), the pod is gone (404), nothing
listens on that port in the pod (the kubelet's message), the API server cannot
be reached. The ones met while relaying (a local connection simply closes then)
are kept in `Forwarder.failure`, so the caller can name what the Admin API
client only saw as a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
import urllib.parse
from typing import Any

import aiohttp

from license_report.api import errors

PROTOCOL = "v4.channel.k8s.io"
DATA_CHANNEL = 0
ERROR_CHANNEL = 1
#: Bytes read from a local connection at a time: one WebSocket message at most.
CHUNK = 64 * 1024
#: Seconds to wait, by default, for the API server to connect, upgrade and send the port frames.
CONNECT_TIMEOUT = 10.0
#: Seconds the auth headers serve before the client's refresh hook is asked again. A run opens
#: a WebSocket per pod; the hook (the in-cluster token file, a kubeconfig's exec plugin) runs
#: in a worker thread, whose hand-offs were 5% of a thousand-pod run's CPU (py-spy). Tokens
#: live for minutes at the least, and a 401 asks the hook again at once.
HEADERS_SECONDS = 10.0


class PortForwardError(errors.ReportError):
    """A port-forward could not be opened or was cut by the kubelet; ``reason`` says why."""

    reason = errors.Reason.PORT_FORWARD_FAILED

    def __init__(
        self,
        message: str,
        *,
        reason: errors.Reason | None = None,
        transient: bool | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, reason=reason, transient=transient)
        self.status = status  # the API server's HTTP status, when it answered one


@dataclasses.dataclass(frozen=True)
class Target:
    """One pod port to forward to."""

    namespace: str
    pod: str
    port: int

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod}:{self.port}"


class Connection:
    """How to reach the API server as the operator: a ``kubernetes.client.Configuration`` read once
    for its address, TLS and proxy, and at every WebSocket for its (refreshed) token."""

    def __init__(
        self, *, configuration: Any, user_agent: str | None = None, timeout: float = CONNECT_TIMEOUT
    ) -> None:
        self.configuration = configuration
        self.timeout = timeout  # seconds to connect, upgrade and read the port frames
        self.base = str(configuration.host).rstrip("/")
        self.user_agent = user_agent
        self.ssl: ResumingContext | bool = (
            _tls(configuration) if self.base.startswith("https") else False
        )
        self.server_hostname: str | None = getattr(configuration, "tls_server_name", None) or None
        self.proxy: str | None = getattr(configuration, "proxy", None) or None
        self.proxy_headers: dict[str, str] | None = getattr(configuration, "proxy_headers", None)
        self._headers: dict[str, str] | None = None
        self._headers_until = 0.0
        self._headers_lock = asyncio.Lock()

    def url(self, target: Target) -> str:
        path = "/api/v1/namespaces/{}/pods/{}/portforward".format(
            urllib.parse.quote(target.namespace, safe=""), urllib.parse.quote(target.pod, safe="")
        )
        return f"{self.base}{path}?ports={target.port}"

    async def headers(self) -> dict[str, str]:
        """The auth headers, as the client's own calls send them, read again after
        `HEADERS_SECONDS` or a 401 (`forget_headers`)."""
        async with self._headers_lock:
            if self._headers is None or time.monotonic() >= self._headers_until:
                self._headers = await self._read_headers()
                self._headers_until = time.monotonic() + HEADERS_SECONDS
            return dict(self._headers)

    def forget_headers(self) -> None:
        """The API server refused them: read them again for the next WebSocket."""
        self._headers = None

    async def _read_headers(self) -> dict[str, str]:
        # The refresh hook may read a file or run an exec plugin: a worker thread, not the loop.
        settings = await asyncio.to_thread(self.configuration.auth_settings)
        headers: dict[str, str] = {}
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        return headers


class ResumingContext(ssl.SSLContext):
    """A client TLS context that offers the API server the session of an earlier connection.

    Every forwarded pod is a WebSocket of its own, so a run makes one TLS
    connection to the API server per pod. Resuming a session (RFC 8446 2.2: the
    ticket the server sent on an earlier connection) spares the client the
    certificate checks and the server its signature: a resumed handshake costs
    this client 0.27 ms and 0.23 ms more to set the session, against 0.76 ms
    for a full one (docs/benchmarks.md, issue 13). A server that refuses the
    ticket simply makes a full handshake.
    """

    #: The newest session the API server sent a ticket for: `keep` sets it.
    session: ssl.SSLSession | None = None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        # The event loop's TLS layer calls this for every connection made with the context.
        if session is None and not server_side:
            session = self.session
        return super().wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session,
        )

    def keep(self, ssl_object: ssl.SSLObject | None) -> None:
        """Offer this connection's session from now on if it was a new one, once the server sent
        its ticket (in TLS 1.3 after the handshake: read it once the connection has carried a
        response). A resumed connection leaves the kept session as it is: Python copies a
        session through its encoding each time it is read, certificates and all (0.15 ms)."""
        if ssl_object is None or ssl_object.session_reused:
            return
        session = ssl_object.session
        if session is not None and session.has_ticket:
            self.session = session


def _tls(configuration: Any) -> ResumingContext:
    context = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and its name
    if configuration.ssl_ca_cert:
        context.load_verify_locations(cafile=configuration.ssl_ca_cert)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


def session() -> aiohttp.ClientSession:
    """A session for WebSockets: no cap on how many are open at once (aiohttp's default is 100),
    since each holds a connection for as long as the local one it serves."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


async def open_websocket(
    *, http: aiohttp.ClientSession, connection: Connection, target: Target
) -> aiohttp.ClientWebSocketResponse:
    """One WebSocket to ``target`` with the two port frames read; refusals as `PortForwardError`."""
    headers = await connection.headers()
    try:
        async with asyncio.timeout(connection.timeout):
            ws = await http.ws_connect(
                connection.url(target),
                protocols=(PROTOCOL,),
                headers=headers,
                ssl=connection.ssl,
                server_hostname=connection.server_hostname,
                proxy=connection.proxy,
                proxy_headers=connection.proxy_headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=connection.timeout),
                max_msg_size=0,
                autoping=True,
            )
    except aiohttp.WSServerHandshakeError as error:
        if error.status == 401:
            connection.forget_headers()
        raise refused(target=target, status=error.status) from error
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise PortForwardError(
            f"cannot reach the Kubernetes API server at {connection.base} to port-forward to"
            f" {target}: {error}",
            reason=errors.Reason.API_SERVER_UNREACHABLE,
            transient=True,
        ) from error
    try:
        if ws.protocol != PROTOCOL:
            raise PortForwardError(
                f"the API server chose WebSocket subprotocol {ws.protocol!r} for {target},"
                f" not {PROTOCOL}"
            )
        for channel in (DATA_CHANNEL, ERROR_CHANNEL):
            await _port_frame(ws, target=target, channel=channel, timeout=connection.timeout)
        if isinstance(connection.ssl, ResumingContext):
            connection.ssl.keep(ws.get_extra_info("ssl_object"))
    except BaseException:
        await ws.close()
        raise
    return ws


async def _port_frame(
    ws: aiohttp.ClientWebSocketResponse, *, target: Target, channel: int, timeout: float
) -> None:
    """The kubelet's first message on each channel: the channel byte and the port (LE uint16)."""
    message = await asyncio.wait_for(ws.receive(), timeout)
    expected = bytes((channel,)) + target.port.to_bytes(2, "little")
    if message.type != aiohttp.WSMsgType.BINARY or message.data != expected:
        raise PortForwardError(
            f"port-forward to {target}: expected the port frame {expected!r} on channel"
            f" {channel}, got {message.type.name} {message.data!r}"
        )


def refused(*, target: Target, status: int) -> PortForwardError:
    """What the API server's answer before the upgrade means for the operator."""
    if status == 403:
        return PortForwardError(
            f"the operator may not port-forward to {target}: it needs permission to `create`"
            f" `pods/portforward` in namespace {target.namespace} (403 Forbidden)",
            reason=errors.Reason.PORT_FORWARD_FORBIDDEN,
            transient=False,
            status=status,
        )
    if status == 404:
        return PortForwardError(
            f"pod {target.namespace}/{target.pod} is gone (404 from the API server)",
            reason=errors.Reason.POD_GONE,
            transient=False,
            status=status,
        )
    if status == 401:
        return PortForwardError(
            f"the API server did not accept the operator's credentials (401) for {target}",
            reason=errors.Reason.API_ERROR,
            transient=False,
            status=status,
        )
    return PortForwardError(
        f"the API server refused to port-forward to {target} ({status}): the pod may not be"
        " scheduled or running",
        reason=errors.Reason.PORT_FORWARD_FAILED,
        transient=status >= 500 or status == 429,
        status=status,
    )


def kubelet_error(*, target: Target, message: str) -> PortForwardError:
    """The kubelet's message on the error channel: most often nothing listens on the port."""
    if "connection refused" in message:
        return PortForwardError(
            f"nothing listens on port {target.port} in pod {target.namespace}/{target.pod}"
            f" (kubelet: {message.strip()})",
            reason=errors.Reason.CONNECTION_REFUSED,
            transient=False,
        )
    return PortForwardError(
        f"port-forward to {target} failed in the kubelet: {message.strip()}",
        reason=errors.Reason.PORT_FORWARD_FAILED,
        transient=True,
    )


class Forwarder:
    """A local endpoint for one pod port: ``async with Forwarder(...) as f: f.url("https")``.

    Entering opens a first WebSocket, so that a refusal (403, 404, the API
    server unreachable) is raised here, named, rather than seen by the Admin API
    client as a dropped connection; that WebSocket serves the first local
    connection. Exiting stops listening and closes every relay.
    """

    def __init__(
        self,
        *,
        connection: Connection,
        namespace: str,
        pod: str,
        port: int,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self.connection = connection
        self.target = Target(namespace=namespace, pod=pod, port=port)
        self._http = http
        self._own_http: aiohttp.ClientSession | None = None
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()
        self._spare: aiohttp.ClientWebSocketResponse | None = None
        #: The last failure met while relaying (the kubelet's error, the pod gone), else None.
        self.failure: PortForwardError | None = None
        #: How many WebSockets were opened: one per local TCP connection.
        self.websockets = 0

    @property
    def listening(self) -> bool:
        """Whether the local endpoint is open: from entering to closing."""
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "not started"
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def url(self, scheme: str = "http") -> str:
        host, port = self.address
        return f"{scheme}://{host}:{port}"

    async def __aenter__(self) -> Forwarder:
        if self._http is None:
            self._http = self._own_http = session()
        try:
            self._spare = await self._open()
            self._server = await asyncio.start_server(self._accept, host="127.0.0.1", port=0)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._relays):
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._spare is not None:
            await self._spare.close()
            self._spare = None
        if self._own_http is not None:
            await self._own_http.close()
            self._own_http = None

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        assert self._http is not None
        ws = await open_websocket(http=self._http, connection=self.connection, target=self.target)
        self.websockets += 1
        return ws

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A task of our own rather than asyncio's per-connection one, so `close` can end it.
        task = asyncio.ensure_future(self._relay(reader, writer))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ws, self._spare = self._spare, None
            if ws is None or ws.closed:
                try:
                    ws = await self._open()
                except PortForwardError as error:
                    self.failure = error
                    return
            try:
                await _pump(ws=ws, reader=reader, writer=writer, forwarder=self)
            finally:
                await ws.close()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _pump(
    *,
    ws: aiohttp.ClientWebSocketResponse,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    forwarder: Forwarder,
) -> None:
    """Relay one local connection over one WebSocket until either side ends."""

    async def upstream() -> None:
        prefix = bytes((DATA_CHANNEL,))
        while data := await reader.read(CHUNK):
            await ws.send_bytes(prefix + data)

    async def downstream() -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == DATA_CHANNEL:
                writer.write(payload)
                await writer.drain()
            elif channel == ERROR_CHANNEL:
                text = payload.decode(errors="replace")
                forwarder.failure = kubelet_error(target=forwarder.target, message=text)
                return

    directions = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in directions:
            task.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
