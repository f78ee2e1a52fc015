"""Serve an `Emulator` on 127.0.0.1 over HTTPS (or HTTP) with a bearer token, in the caller's loop.

``async with serve() as api:`` gives the URL, the CA, the token, a kubeconfig
file for kubectl, kopf and ``kubernetes.config``, and ready ``kubernetes``
clients. The server runs in the same event loop as the caller, so a test can
change objects between two requests of the code under test; the
``kubernetes`` client is synchronous, so call it through ``asyncio.to_thread``
from async code, or it blocks the loop the server needs.

Requests without the token get 401 (except ``/version`` and the health
endpoints, as on a real server), which shows that a client does send its
credentials.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import hmac
import pathlib
import secrets
import socket
import ssl
import tempfile
import typing
from collections.abc import AsyncIterator, Mapping
from typing import Any

import kmock
import kubernetes.client
import yaml
from aiohttp import web

from license_report_sandbox.kubeapi import emulator as emulation
from license_report_sandbox.kubeapi import errors, portforward, store
from license_report_sandbox.kubeapi.resources import Body, Kind

CONTEXT = "kubeapi-emulator"


class Recorded(typing.NamedTuple):
    """One request as the server saw it, for tests that audit what a client called."""

    method: str
    path: str
    query: str
    user_agent: str


@dataclasses.dataclass
class KubeAPI:
    """A running emulated API server and what it takes to talk to it."""

    emulator: emulation.Emulator
    url: str
    token: str | None
    #: The CA that signed the server's certificate (PEM), and a file holding it; None over HTTP.
    ca_pem: bytes | None
    ca_path: pathlib.Path | None
    workdir: pathlib.Path
    #: Every request served, in order (method, path, query, User-Agent).
    requests: list[Recorded] = dataclasses.field(default_factory=list)
    _clients: list[kubernetes.client.ApiClient] = dataclasses.field(default_factory=list)
    #: The connections of the watches being served now (see `cut_watches`).
    _watches: set[asyncio.Transport] = dataclasses.field(default_factory=set)

    @property
    def store(self) -> store.Store:
        return self.emulator.store

    @property
    def pod_network(self) -> portforward.PodNetwork:
        """Pods' loopback listeners (reached only by port-forward) and port-forward's RBAC."""
        return self.emulator.pod_network

    @property
    def objects(self) -> kmock.ObjectsArray:
        """kmock's view of every object (with history) for assertions; write with `put`."""
        return self.emulator.objects

    def put(self, obj: Mapping[str, Any]) -> Body:
        """Create or replace an object, status included, with server metadata and watch events."""
        return self.emulator.upsert(obj)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Body | None:
        """The stored object (a copy), or None."""
        served = self.store.kind_of(api_version, kind)
        if served is None:
            raise LookupError(f"no served resource for {api_version} {kind}")
        try:
            obj = self.store.get(served, namespace, name)
        except kmock.KubernetesError:
            return None
        return copy.deepcopy(obj)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete as a client would (finalizers and garbage collection apply)."""
        served = self.store.kind_of(api_version, kind)
        if served is None:
            raise LookupError(f"no served resource for {api_version} {kind}")
        self.store.delete(served, namespace, name)

    def register_crd(self, crd: Mapping[str, Any]) -> list[Kind]:
        return self.emulator.register_crd(crd)

    def cut_watches(self, *, reset: bool = False) -> int:
        """End every watch stream open now: a test hook for "watch streams cut" faults.

        By default each stream ends cleanly, as a real API server ends a watch at
        its timeout or when it restarts; with ``reset`` the connections are dropped
        mid-stream instead, as by a load balancer or a network fault. Either way a
        client must watch again from the last ``resourceVersion`` it saw, and the
        changes made meanwhile are replayed to it. Returns how many were cut.
        """
        if not reset:
            return self.store.changes.cut()
        cut = 0
        for transport in list(self._watches):
            if not transport.is_closing():
                transport.abort()
                cut += 1
        return cut

    def kubeconfig(
        self, path: pathlib.Path | None = None, *, namespace: str = "default"
    ) -> pathlib.Path:
        """Write a kubeconfig (one cluster, user, context; current) and return its path."""
        path = path or self.workdir / "kubeconfig"
        cluster: Body = {"server": self.url}
        if self.ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        user: Body = {"token": self.token} if self.token else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": CONTEXT, "user": user}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
                }
            ],
            "current-context": CONTEXT,
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    def configuration(self) -> kubernetes.client.Configuration:
        """An explicit client configuration (never $KUBECONFIG, read by the client at import)."""
        config = kubernetes.client.Configuration(host=self.url)
        if self.token:
            config.api_key = {"authorization": self.token}
            config.api_key_prefix = {"authorization": "Bearer"}
        if self.ca_path is not None:
            config.ssl_ca_cert = str(self.ca_path)
        return config

    def client(self) -> kubernetes.client.ApiClient:
        """A ``kubernetes`` ApiClient for this server; closed when the server stops."""
        client = kubernetes.client.ApiClient(self.configuration())
        self._clients.append(client)
        return client


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def _tls(host: str, workdir: pathlib.Path) -> tuple[ssl.SSLContext, bytes, pathlib.Path]:
    import trustme  # only the TLS mode needs it (a test dependency)

    ca = trustme.CA(organization_name="kubeapi emulator")
    cert = ca.issue_cert(host, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    pem = ca.cert_pem.bytes()
    ca_path = workdir / "ca.pem"
    ca_path.write_bytes(pem)
    return context, pem, ca_path


#: kube-apiserver's ``MaxRequestBodyBytes``: it reads bodies up to 3 MiB (aiohttp's default is 1).
MAX_REQUEST_BYTES = 3 * 1024 * 1024


class _Server(web.Server):
    def _make_request(
        self,
        message: Any,
        payload: Any,
        protocol: Any,
        writer: Any,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return web.BaseRequest(
            message, payload, protocol, writer, task, self._loop, client_max_size=MAX_REQUEST_BYTES
        )


@contextlib.asynccontextmanager
async def serve(
    *,
    tls: bool = True,
    auth: bool = True,
    host: str = "127.0.0.1",
    port: int = 0,
    emulator: emulation.Emulator | None = None,
    workdir: pathlib.Path | None = None,
) -> AsyncIterator[KubeAPI]:
    """Run an emulated API server until the block exits (port 0: a free one).

    ``tls`` serves HTTPS with a fresh ``trustme`` CA; ``auth`` requires a
    random bearer token; ``workdir`` holds the CA and kubeconfig files (a
    temporary folder, removed afterwards, when not given).
    """
    emulator = emulator if emulator is not None else emulation.Emulator()
    token = secrets.token_urlsafe(24) if auth else None
    expected = f"Bearer {token}".encode()

    recorded: list[Recorded] = []
    watches: set[asyncio.Transport] = set()
    #: Upgraded connections (port-forwards): aiohttp's shutdown does not cut them.
    streams: set[asyncio.Transport] = set()

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        recorded.append(
            Recorded(
                request.method,
                request.path,
                request.query_string,
                request.headers.get("User-Agent", ""),
            )
        )
        if token is not None and not emulation.public_path(request.path):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response(errors.unauthorized(), status=401)
        forwarded = portforward.route(request.path)
        if forwarded is not None and request.transport is not None:
            # A WebSocket is beyond kmock's request/response scaffold: served beside it.
            streams.add(request.transport)
            try:
                return await portforward.serve(
                    request,
                    namespace=forwarded[0],
                    name=forwarded[1],
                    pods=emulator.store,
                    network=emulator.pod_network,
                )
            finally:
                streams.discard(request.transport)
        transport = request.transport
        watching = request.method == "GET" and request.query.get("watch") in ("true", "1")
        if not watching or transport is None:
            return await emulator(request)
        watches.add(transport)
        try:
            return await emulator(request)
        finally:
            watches.discard(transport)

    with contextlib.ExitStack() as files:
        if workdir is None:
            workdir = pathlib.Path(
                files.enter_context(tempfile.TemporaryDirectory(prefix="kubeapi-"))
            )
        context, ca_pem, ca_path = _tls(host, workdir) if tls else (None, None, None)
        sock = _listening_socket(host, port)
        files.callback(sock.close)
        async with emulator:
            server = _Server(handle, handler_cancellation=True)
            runner = web.ServerRunner(server, shutdown_timeout=1.0)
            await runner.setup()
            try:
                site = web.SockSite(runner, sock, ssl_context=context)
                await site.start()
                bound_port = sock.getsockname()[1]
                api = KubeAPI(
                    emulator=emulator,
                    url=f"{'https' if tls else 'http'}://{host}:{bound_port}",
                    token=token,
                    ca_pem=ca_pem,
                    ca_path=ca_path,
                    workdir=workdir,
                    requests=recorded,
                    _watches=watches,
                )
                try:
                    yield api
                finally:
                    for client in api._clients:
                        client.close()
                    emulator.store.close()
            finally:
                # Cut what is still connected: a graceful TLS close waits for a close_notify
                # that an idle pooled client never sends, and would outlive the event loop.
                for connection in server.connections:
                    if connection.transport is not None:
                        connection.transport.abort()
                for transport in list(streams):
                    transport.abort()
                await runner.cleanup()
