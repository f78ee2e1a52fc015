"""HTTP to a pod port through port-forward WebSockets, with no local socket in between.

An aiohttp `Connector` whose every connection is one ``pods/portforward``
WebSocket (`portforward.open_websocket`), presented to aiohttp as a transport: what
the HTTP client writes goes out on the data channel, what the kubelet sends on it
is handed back. An ``https`` request's TLS to the pod's listener runs inside the
tunnel, an `ssl.SSLObject` over memory buffers. This is what the Admin API and
status-listener clients use for a forwarded pod; `portforward.Forwarder`'s local
listener and relay stays for clients that need a TCP endpoint (PostgreSQL). The
relay cost a listening socket, a local TCP connection and two copies of every
chunk per pod: dropping it took the operator's CPU for 1,000 forwarded pods
from 4.6-4.8 s to 3.5-3.9 s (docs/benchmarks.md, issue 13). `stream` gives
the same connection to a protocol of the caller's (`pipelining`).

What the kubelet says on the error channel (nothing listens on that port) and
WebSockets the API server refuses are kept in `Connector.failure`, as the
forwarder does, since the HTTP client only sees a connection that could not be
made or was dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from typing import Any

import aiohttp
from aiohttp import client_proto

from license_report.sources import portforward

#: Connections one pod's connector keeps at once through aiohttp: a status listener's
#: requests are made in turn on one kept-alive connection; a control plane's paged lists
#: may use a few.
LIMIT = 4


class _TLS:
    """A client TLS connection over memory buffers: ciphertext in and out as bytes."""

    def __init__(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.object = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname=server_hostname
        )
        self.context = context

    def seal(self, data: bytes) -> bytes:
        self.object.write(data)
        return self.outgoing.read()

    def open(self, data: bytes) -> list[bytes]:
        """The plaintext ``data`` completes; an empty chunk last when the server closed TLS."""
        self.incoming.write(data)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.object.read(portforward.CHUNK)
            except ssl.SSLWantReadError:
                return chunks
            except ssl.SSLZeroReturnError:
                return [*chunks, b""]
            if not chunk:
                return [*chunks, b""]
            chunks.append(chunk)


class _Tunnel(asyncio.Transport):
    """One WebSocket's data channel as an asyncio transport for one protocol.

    Writes made in one turn of the event loop go out as one WebSocket message,
    in order, from one sending task; a WebSocket that ends (the pod's listener
    closed the connection, the kubelet's error) is the protocol's
    ``connection_lost``. Closing flushes what was written, then closes the
    WebSocket.
    """

    def __init__(
        self, *, ws: aiohttp.ClientWebSocketResponse, owner: Connector, tls: _TLS | None = None
    ) -> None:
        super().__init__()
        self._ws = ws
        self._owner = owner
        self._tls = tls
        self._protocol: asyncio.Protocol | None = None
        self._outbox = bytearray()
        self._sending: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        self._lost = False

    async def handshake(self, *, timeout: float) -> None:
        """Complete TLS with the pod's listener before any protocol uses the tunnel."""
        assert self._tls is not None
        async with asyncio.timeout(timeout):
            while True:
                try:
                    self._tls.object.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                else:
                    self._send_raw(self._tls.outgoing.read())
                    return
                self._send_raw(self._tls.outgoing.read())
                self._tls.incoming.write(await self._receive())

    async def _receive(self) -> bytes:
        """The next data-channel payload; the kubelet's error or the end as an OSError."""
        while True:
            message = await self._ws.receive()
            if message.type != aiohttp.WSMsgType.BINARY:
                raise ConnectionResetError(
                    f"the port-forward to {self._owner.target} ended during the TLS handshake"
                )
            if not message.data:
                continue
            if message.data[0] == portforward.DATA_CHANNEL:
                return bytes(message.data[1:])
            if message.data[0] == portforward.ERROR_CHANNEL:
                self._owner.failed(message.data[1:])
                raise ConnectionResetError(
                    f"the port-forward to {self._owner.target} failed in the kubelet"
                )

    def start(self, protocol: asyncio.Protocol) -> None:
        self._protocol = protocol
        protocol.connection_made(self)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        error: Exception | None = None
        try:
            while True:
                message = await self._ws.receive()
                if message.type != aiohttp.WSMsgType.BINARY:
                    break  # closed by the API server: the pod's listener closed the connection
                if not message.data:
                    continue
                channel, payload = message.data[0], message.data[1:]
                if channel == portforward.ERROR_CHANNEL:
                    self._owner.failed(payload)
                    error = ConnectionResetError(f"port-forward to {self._owner.target} failed")
                    break
                if channel != portforward.DATA_CHANNEL:
                    continue
                await self._reading.wait()
                self._deliver(bytes(payload))
        except (OSError, aiohttp.ClientError, ssl.SSLError) as failure:
            error = failure
        self._connection_lost(error)
        self.close()

    def _deliver(self, payload: bytes) -> None:
        assert self._protocol is not None
        if self._tls is None:
            self._protocol.data_received(payload)
            return
        for chunk in self._tls.open(payload):
            if not chunk:
                raise ConnectionResetError("the Admin API closed TLS")
            self._protocol.data_received(chunk)
        self._send_raw(self._tls.outgoing.read())  # post-handshake messages, if any

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        self._send_raw(self._tls.seal(bytes(data)) if self._tls is not None else bytes(data))

    def _send_raw(self, data: bytes) -> None:
        if not data:
            return
        self._outbox += data
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        prefix = bytes((portforward.DATA_CHANNEL,))
        try:
            while self._outbox:
                data = prefix + self._outbox
                self._outbox.clear()
                await self._ws.send_bytes(data)
        except (OSError, aiohttp.ClientError) as error:
            self._connection_lost(error)
            self.abort()

    def get_write_buffer_size(self) -> int:
        return len(self._outbox)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def is_closing(self) -> bool:
        return self._closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if self._tls is not None:
            if name == "ssl_object":
                return self._tls.object
            if name == "sslcontext":
                return self._tls.context
            if name == "peercert":
                return self._tls.object.getpeercert()
        return default

    def close(self) -> None:
        self._shut(flush=True)

    def abort(self) -> None:
        self._shut(flush=False)

    def _shut(self, *, flush: bool) -> None:
        if self._closing:
            return
        self._closing = True
        self._owner.closing(asyncio.ensure_future(self._shutdown(flush=flush)))

    async def _shutdown(self, *, flush: bool) -> None:
        sending = self._sending
        if sending is not None and not flush:
            sending.cancel()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        pending = [task for task in (sending, self._reader) if task is not None]
        pending = [task for task in pending if task is not asyncio.current_task()]
        await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(OSError, aiohttp.ClientError, TimeoutError):
            await self._ws.close()
        self._connection_lost(None)
        # The tasks' tracebacks and the protocol refer back to this tunnel: without these
        # cycles the WebSocket's connection (its TLS buffers: 128 KiB and more) is freed now,
        # not at the next full garbage collection.
        self._reader = self._sending = None
        self._protocol = None

    def _connection_lost(self, error: Exception | None) -> None:
        if self._lost or self._protocol is None:
            return
        self._lost = True
        self._protocol.connection_lost(error)


@functools.cache
def default_tls() -> ssl.SSLContext:
    """What an ``https`` request gives no context for: the system's CAs, made once (loading
    them takes milliseconds)."""
    return ssl.create_default_context()


class Connector(aiohttp.BaseConnector):
    """An aiohttp connector to one pod port whose connections are port-forward WebSockets.

    `open` makes the first WebSocket at once, so that a refusal (403, 404, the
    API server unreachable) is raised there, named, rather than seen by the HTTP
    client as a connection that could not be made; that WebSocket serves the
    first connection. A request's host is not looked up: every connection goes
    to the pod port given here. ``https`` requests use the request's ``ssl``
    context and ``server_hostname`` (none: no name sent, as for an IP).
    """

    def __init__(
        self,
        *,
        connection: portforward.Connection,
        http: aiohttp.ClientSession,
        namespace: str,
        pod: str,
        port: int,
        limit: int = LIMIT,
        force_close: bool = False,
    ) -> None:
        super().__init__(limit=limit, force_close=force_close)
        self.connection = connection
        self.target = portforward.Target(namespace=namespace, pod=pod, port=port)
        self._http = http
        self._spare: aiohttp.ClientWebSocketResponse | None = None
        self._shutdowns: set[asyncio.Task[None]] = set()
        #: The last failure met (the kubelet's error, a refused WebSocket), else None.
        self.failure: portforward.PortForwardError | None = None
        #: How many WebSockets were opened: one per connection.
        self.websockets = 0

    async def open(self) -> None:
        """Open the first WebSocket: `portforward.PortForwardError` if it is refused."""
        self._spare = await self._websocket()

    async def _websocket(self) -> aiohttp.ClientWebSocketResponse:
        ws = await portforward.open_websocket(
            http=self._http, connection=self.connection, target=self.target
        )
        self.websockets += 1
        return ws

    def failed(self, kubelet_message: bytes) -> None:
        """What the kubelet said on a tunnel's error channel."""
        self.failure = portforward.kubelet_error(
            target=self.target, message=kubelet_message.decode(errors="replace")
        )

    def closing(self, task: asyncio.Task[None]) -> None:
        """A tunnel's shutdown, awaited by `close`."""
        self._shutdowns.add(task)
        task.add_done_callback(self._shutdowns.discard)

    async def stream(
        self,
        protocol: asyncio.Protocol,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        host: str | None = None,
    ) -> asyncio.Transport:
        """A new connection to the pod port (TLS with ``tls``) as a transport, started with
        ``protocol``. The name TLS sends and checks is ``server_hostname``, else, as
        aiohttp's own connector does, the URL's ``host`` when the context checks names at
        all (a forwarded route's context checks none: then none is sent). A refused
        WebSocket is recorded in `failure` and raised as an `OSError`; TLS failures as
        `ssl.SSLError`, the kubelet's as `OSError`."""
        if tls is not None and server_hostname is None and tls.check_hostname:
            server_hostname = host
        ws, self._spare = self._spare, None
        if ws is None or ws.closed:
            try:
                ws = await self._websocket()
            except portforward.PortForwardError as error:
                self.failure = error
                raise ConnectionResetError(error.message) from None
        tunnel = _Tunnel(ws=ws, owner=self, tls=None if tls is None else _TLS(tls, server_hostname))
        if tls is not None:
            try:
                await tunnel.handshake(timeout=self.connection.timeout)
            except BaseException:
                tunnel.abort()
                raise
        tunnel.start(protocol)
        return tunnel

    async def _create_connection(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> client_proto.ResponseHandler:
        context = None
        if req.is_ssl():
            context = req.ssl if isinstance(req.ssl, ssl.SSLContext) else default_tls()
        protocol = client_proto.ResponseHandler(loop=asyncio.get_running_loop())
        # Failures said as aiohttp's own connector says them, so callers tell TLS apart.
        try:
            await self.stream(
                protocol, tls=context, server_hostname=req.server_hostname, host=req.host
            )
        except ssl.SSLCertVerificationError as error:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, error) from None
        except ssl.SSLError as error:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, error) from None
        except OSError as error:
            raise aiohttp.ClientConnectorError(req.connection_key, error) from None
        return protocol

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        if self._spare is not None:
            await self._spare.close()
            self._spare = None
        while self._shutdowns:
            await asyncio.gather(*self._shutdowns, return_exceptions=True)


class Pool:
    """Connectors for a collection run, all making their WebSockets on one HTTP session to the
    API server.

    Each connector is opened by the one node's requests that use it and closed with
    them, so a run holds at most as many WebSockets as it asks nodes at once,
    whatever the fleet's size (docs/benchmarks.md, issue 13).
    """

    def __init__(self, *, connection: portforward.Connection) -> None:
        self.connection = connection
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Pool:
        self._http = portforward.session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def connector(self, *, namespace: str, pod: str, port: int) -> Connector:
        """A connector to this pod port, not yet open (`Connector.open`)."""
        assert self._http is not None, "use `async with Pool(...)`"
        return Connector(
            connection=self.connection, http=self._http, namespace=namespace, pod=pod, port=port
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
