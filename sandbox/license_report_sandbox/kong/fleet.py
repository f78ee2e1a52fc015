"""The fleet server: many simulated nodes in one process, each on its own loopback address.

One aiohttp application and one runner serve every node through one listening
site per node address (the whole 127.0.0.0/8 is loopback on Linux, so every
node can use the same port). A request belongs to the node whose address it
arrived on, read from the socket's local address, so a thousand nodes cost a
thousand listening sockets rather than a thousand applications.

With ``status_port`` every node also gets Kong's status listener
(`status_api`) on the same address, the pod IP where a Pod shows it: a second
application and a second listening socket per node address, so 10,000 nodes
then hold 20,000 listening descriptors besides their connections (check
``ulimit -n``: 20,000 here). Without it nothing more is opened. The Admin API's
port is a free one no Pod names (reached through port-forward, `PodNetwork.listen`);
the status port is the one ``KONG_STATUS_LISTEN`` gives (the chart's 8100).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections.abc import Sequence

from aiohttp import web

from license_report_sandbox import faults
from license_report_sandbox.kong import nginx, routing, status_api
from license_report_sandbox.kong import nodes as model  # `nodes` is Fleet's argument

_NODE_KEY: web.RequestKey[model.SimNode] = web.RequestKey("sim_node", model.SimNode)
_NO_FAULT = faults.Fault()
#: nginx's page when ``ssl_verify_client on`` and the client sent no certificate
#: (ngx_http_special_response.c, ``ngx_http_error_496_page``, answered as 400).
NO_CLIENT_CERTIFICATE_PAGE = (
    "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n"
    "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
    "<center>No required SSL certificate was sent</center>\r\n"
    "<hr><center>kong</center>\r\n</body>\r\n</html>\r\n"
)


def _assign_addresses(nodes: Sequence[model.SimNode], first_address: str) -> None:
    taken = {node.address for node in nodes if node.address}
    if len(taken) != sum(1 for node in nodes if node.address):
        raise ValueError("two nodes share an address")
    current = ipaddress.IPv4Address(first_address)
    for node in nodes:
        if node.address:
            continue
        while str(current) in taken:
            current += 1
        if not current.is_loopback:
            raise ValueError(f"ran out of loopback addresses at {current}")
        node.address = str(current)
        taken.add(node.address)
        current += 1


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


class Fleet:
    """Serves `nodes` while the ``async with`` block runs; one port on every node address."""

    def __init__(
        self,
        nodes: Sequence[model.SimNode],
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        first_address: str = "127.0.0.2",
        require_client_cert: bool = False,
        status_port: int | None = None,
    ) -> None:
        """``require_client_cert``: as Kong with ``nginx_admin_ssl_verify_client on`` (the Kong
        Gateway Operator's data planes): ``ssl_context`` must trust the client CA; a client
        presenting no certificate gets nginx's 400, one the CA did not sign fails the handshake
        (nginx answers 400 there too; Python's ssl cannot defer the check)."""
        self.nodes: tuple[model.SimNode, ...] = tuple(nodes)
        self._by_name = {node.name: node for node in self.nodes}
        if len(self._by_name) != len(self.nodes):
            raise ValueError("node names must be unique")
        _assign_addresses(self.nodes, first_address)
        self._by_address = {node.address: node for node in self.nodes}
        self._requested_port = port
        self._port: int | None = port or None
        if require_client_cert:
            if ssl_context is None:
                raise ValueError("a client certificate can only be required over TLS")
            ssl_context.verify_mode = ssl.CERT_OPTIONAL
        self._require_client_cert = require_client_cert
        self._ssl_context = ssl_context
        self._first_address = first_address
        self._runner: web.AppRunner | None = None
        self._sites: dict[str, web.TCPSite] = {}
        self._inflight: set[asyncio.Task[object]] = set()
        self.status_port = status_port
        self._status_runner: web.AppRunner | None = None
        self._status_sites: dict[str, web.TCPSite] = {}

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the port is chosen when the fleet starts")
        return self._port

    def node(self, name: str) -> model.SimNode:
        return self._by_name[name]

    def url(self, node: model.SimNode | str) -> str:
        target = self._by_name[node] if isinstance(node, str) else node
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{target.address}:{self.port}"

    def set_fault(self, name: str, fault: faults.Fault) -> None:
        self._by_name[name].fault = fault

    async def set_refuse(self, name: str, refuse: bool) -> None:
        """Stop or restart one node's listener; stopping also drops its open connections."""
        node = self._by_name[name]
        node.refuse = refuse
        if self._runner is None or not node.serves_admin_api:
            return
        site = self._sites.pop(node.address, None) if refuse else None
        if site is not None:
            await site.stop()
            server = self._runner.server
            for connection in server.connections if server is not None else []:
                transport = connection.transport
                if transport is not None and self._address_of(transport) == node.address:
                    transport.abort()
        elif not refuse and node.address not in self._sites:
            await self._start_site(node, self.port)

    def status_url(self, node: model.SimNode | str) -> str:
        """The status listener on the node's address (its pod IP): ``http://<ip>:<port>``."""
        target = self._by_name[node] if isinstance(node, str) else node
        if self.status_port is None:
            raise RuntimeError("this fleet was started without status listeners")
        return f"http://{target.address}:{self.status_port}"

    async def stop_node(self, name: str) -> None:
        """``kong quit`` after its wait: every nginx worker closes its listening sockets
        (b8fb83b8d2:src/os/unix/ngx_process_cycle.c:728-739); open connections are dropped
        here too (in-flight requests of a draining Kong are not modelled)."""
        node = self._by_name[name]
        node.stopped = True
        for sites in (self._sites, self._status_sites):
            site = sites.pop(node.address, None)
            if site is not None:
                await site.stop()
        for runner in (self._runner, self._status_runner):
            server = runner.server if runner is not None else None
            for connection in server.connections if server is not None else []:
                transport = connection.transport
                if transport is not None and self._address_of(transport) == node.address:
                    transport.abort()

    def free_address(self) -> str:
        """The address `add_node` would give a new node now (render its pod with it first)."""
        probe = model.SimNode(name="", mode=model.Mode.OSS_DBLESS)
        _assign_addresses([*self.nodes, probe], self._first_address)
        return probe.address

    async def add_node(self, node: model.SimNode) -> None:
        """A new pod's node joins the running fleet (a rolling update): an address of its own
        (the next free one unless given), its Admin API site and status listener."""
        if node.name in self._by_name:
            raise ValueError(f"node {node.name!r} already exists")
        _assign_addresses([*self.nodes, node], self._first_address)
        self.nodes = (*self.nodes, node)
        self._by_name[node.name] = node
        self._by_address[node.address] = node
        if self._runner is None:
            return
        if node.serves_admin_api and not node.refuse:
            await self._start_site(node, self.port)
        if self._status_runner is not None and self.status_port is not None:
            site = web.TCPSite(self._status_runner, node.address, self.status_port, backlog=1024)
            await site.start()
            self._status_sites[node.address] = site

    async def remove_node(self, name: str) -> None:
        """The pod is gone: its listeners close and its address is free again."""
        await self.stop_node(name)
        node = self._by_name.pop(name)
        self._by_address.pop(node.address, None)
        self.nodes = tuple(n for n in self.nodes if n is not node)

    async def flush(self) -> None:
        """Every node's flush timer fires once (data planes send, then everyone writes)."""
        for node in self.nodes:
            await node.flush()

    async def __aenter__(self) -> Fleet:
        if self._runner is not None:
            raise RuntimeError("the fleet is already running")
        # One application for every node: the handler finds the node by local address.
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(self._stamp)
        # Cancelling a handler whose client left is what ends a hang when the client gives up.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        await self._runner.setup()
        try:
            await self._start_sites()
            if self.status_port is not None:
                await self._start_status_sites(self.status_port)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()

    async def _start_sites(self) -> None:
        # Data planes (Konnect's too) render no Admin API server: nothing listens there.
        listening = [node for node in self.nodes if not node.refuse and node.serves_admin_api]
        probe = listening[0].address if listening else self._first_address
        for _attempt in range(5):
            port = self._requested_port or _free_port(probe)
            try:
                for node in listening:
                    await self._start_site(node, port)
            except OSError as error:
                # Another process took the port we picked on some address: pick again.
                if self._requested_port or error.errno != errno.EADDRINUSE:
                    raise
                for site in self._sites.values():
                    await site.stop()
                self._sites.clear()
                continue
            self._port = port
            return
        raise OSError(errno.EADDRINUSE, "no port was free on every node address")

    async def _start_status_sites(self, port: int) -> None:
        """Every node renders the status server when ``status_listen`` is set, data planes too."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle_status)
        app.on_response_prepare.append(self._stamp)
        self._status_runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._status_runner.setup()
        for node in self.nodes:
            if node.stopped:
                continue
            site = web.TCPSite(self._status_runner, node.address, port, backlog=1024)
            await site.start()
            self._status_sites[node.address] = site

    async def _start_site(self, node: model.SimNode, port: int) -> None:
        assert self._runner is not None
        site = web.TCPSite(
            self._runner, node.address, port, ssl_context=self._ssl_context, backlog=1024
        )
        await site.start()
        self._sites[node.address] = site

    async def _stop(self) -> None:
        if self._runner is None:
            return
        for site in [*self._sites.values(), *self._status_sites.values()]:
            await site.stop()
        self._sites.clear()
        self._status_sites.clear()
        if self._status_runner is not None:
            await self._status_runner.cleanup()
            self._status_runner = None
        await asyncio.sleep(0)  # connections accepted just before the sites stopped
        server = self._runner.server
        transports = [
            connection.transport
            for connection in (server.connections if server is not None else [])
            if connection.transport is not None
        ]
        # Hanging and slow handlers would hold the shutdown for its whole timeout.
        for task in list(self._inflight):
            task.cancel()
        await self._runner.cleanup()
        self._runner = None
        # A closed transport lets go of its socket a loop iteration later, and
        # a test's loop may end first: make sure every one is gone before then.
        for transport in transports:
            if not transport.is_closing():
                transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)

    @staticmethod
    def _address_of(transport: asyncio.BaseTransport) -> str | None:
        sockname = transport.get_extra_info("sockname")
        return str(sockname[0]) if isinstance(sockname, tuple) else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        node = self._by_address.get(self._address_of(transport) or "") if transport else None
        if node is None:
            return faults.json_response(421, {"message": "Misdirected request"})
        if self._require_client_cert and not (transport and transport.get_extra_info("peercert")):
            return web.Response(
                status=400, text=NO_CLIENT_CERTIFICATE_PAGE, content_type="text/html"
            )
        request[_NODE_KEY] = node
        node.requests_seen.append(request.path)
        node.serve(nginx.Kind.ADMIN)
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            fault = node.fault if node.fault.applies_to(request.path) else _NO_FAULT
            if fault.latency > 0:
                await asyncio.sleep(fault.latency)
            if fault.hang:
                await faults.hang()
            status, body = await routing.route(node, request)
            return await faults.answer(request, fault=fault, status=status, body=body)
        finally:
            self._inflight.discard(task)

    async def _handle_status(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        node = self._by_address.get(self._address_of(transport) or "") if transport else None
        if node is None:
            return faults.json_response(421, {"message": "Misdirected request"})
        request[_NODE_KEY] = node
        node.serve(status_api.kind_of(request))
        return status_api.answer(node, request)

    @staticmethod
    async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
        node = request.get(_NODE_KEY)
        # _SERVER_TOKENS: ``_VERSION``, which keeps -enterprise-edition in 3.x EE.
        token = node.release.server_token if node is not None else ""
        response.headers["Server"] = f"kong/{token}" if token else "kong"
        response.headers["Access-Control-Allow-Origin"] = "*"
