"""A Kong Admin API simulator: many gateway nodes in one process, each on its own loopback address.

One aiohttp application and one runner serve every node through one listening
site per node address (the whole 127.0.0.0/8 is loopback on Linux, so every
node can use the same port). A request belongs to the node whose address it
arrived on, read from the socket's local address, so a thousand nodes cost a
thousand listening sockets rather than a thousand applications.

Bodies follow Kong's Admin API shapes (``/license/report`` in the 2.7-3.4
shape, or 3.5's for nodes whose version is 3.5 or later). In DB mode every node
shows the same cluster-wide figures from a shared `Datastore`, exactly as real
Kong does, which is what lets tests catch a collector that adds them up once
per node. In DB-less mode each node shows its own.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import dataclasses
import datetime
import enum
import errno
import hashlib
import ipaddress
import json
import signal
import socket
import ssl
import sys
import urllib.parse
import uuid
from collections.abc import Sequence

from aiohttp import web

from license_report_sandbox import faults

#: Re-exported so that a test needs one import: ``kong.Fault(latency=0.1)``.
Fault = faults.Fault

UNKNOWN_BUCKET = "UNKNOWN"
_NOT_FOUND = {"message": "Not found"}
_LISTS = ("services", "routes", "consumers", "plugins", "workspaces", "rbac/users")
_DATA_PLANES = "clustering/data-planes"
_NOT_A_CONTROL_PLANE = (
    "this endpoint is only available when Kong is configured to run as Control Plane for "
    "the cluster"
)
#: Kong OSS's bundled plugins (``kong/constants.lua``): the 3.5 report's "free" tier.
_FREE_PLUGINS = frozenset(
    {"acl", "aws-lambda", "basic-auth", "cors", "correlation-id", "http-log", "jwt",
     "key-auth", "oauth2", "prometheus", "rate-limiting", "request-transformer"}
)  # fmt: skip
_ENTERPRISE_PLUGINS = frozenset(
    {"kafka-upstream", "openid-connect", "rate-limiting-advanced", "request-validator"}
)
_EE_ONLY_LISTS = ("workspaces", "rbac/users")
_MAX_PAGE = 1000
_DEFAULT_PAGE = 100
_CREATED_AT = 1_700_000_000
_MASKED = "******"  # how Kong shows a secret setting
_DEFAULT_CONFIGURATION_HASH = "a9a166c59873245db8f1a747ba9a80a7"


class Mode(enum.StrEnum):
    EE_DB = "ee-db"
    EE_DBLESS = "ee-dbless"
    OSS_DB = "oss-db"
    OSS_DBLESS = "oss-dbless"

    @property
    def enterprise(self) -> bool:
        return self in (Mode.EE_DB, Mode.EE_DBLESS)

    @property
    def dbless(self) -> bool:
        return self in (Mode.EE_DBLESS, Mode.OSS_DBLESS)


@dataclasses.dataclass(frozen=True)
class SimPlugin:
    """A plugin instance; ``route``, ``service`` and ``consumer`` are entity indexes (from 0)."""

    name: str
    route: int | None = None
    service: int | None = None
    consumer: int | None = None
    consumer_group: str | None = None  # Enterprise: a consumer group's id
    config: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Datastore:
    """The cluster-wide figures every DB-mode node of a cluster reports (share one object)."""

    #: bucket (``"YYYY-MM"`` or ``"UNKNOWN"``) -> request_count
    counters: dict[str, int] = dataclasses.field(default_factory=dict)
    services: int = 0
    routes: int = 0
    #: How many of ``routes`` (the last ones) have no service.
    serviceless_routes: int = 0
    consumers: int = 0
    workspaces: int = 1
    rbac_users: int = 0
    plugins: tuple[SimPlugin, ...] = ()
    #: Data planes a control plane of this cluster lists (``/clustering/data-planes``).
    data_planes: int = 0
    db_version: str = "postgres 15.4"
    #: Seeds entity ids, so every node of the cluster lists the same ids.
    cluster_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)


@dataclasses.dataclass
class SimNode:
    """One simulated gateway node; empty fields get Kong-like defaults."""

    name: str
    mode: Mode
    #: Kong's ``role``: "traditional", "control_plane" (DB mode) or "data_plane" (DB-less).
    role: str = "traditional"
    address: str = ""
    version: str = ""
    node_id: str = ""
    hostname: str = ""
    cores: int = 4
    uname: str = "Linux x86_64"
    #: DB-less Enterprise: this node's own counters (ignored in DB mode).
    counters: dict[str, int] = dataclasses.field(default_factory=dict)
    services: int = 0
    routes: int = 0
    serviceless_routes: int = 0
    consumers: int = 0
    workspaces: int = 1
    rbac_users: int = 0
    plugins: tuple[SimPlugin, ...] = ()
    data_planes: int = 0
    #: Required in DB mode: the figures of the cluster this node belongs to.
    datastore: Datastore | None = None
    #: nginx's request count since start, as ``/status`` shows it (admin requests not added).
    total_requests: int = 0
    configuration_hash: str = ""
    #: Shown raw in ``/license/report``, as Kong's public Lua does; None -> "UNLICENSED".
    license_key: str | None = None
    #: Kong 3.5+ shows it beside the key (unlicensed: its built-in "2017-7-20").
    license_expiration_date: str = "2030-01-01"
    #: When set, every request needs ``Kong-Admin-Token: <token>`` (RBAC on).
    token: str | None = None
    fault: faults.Fault = dataclasses.field(default_factory=faults.Fault)
    refuse: bool = False
    #: The path of every request this node received, in order.
    requests_seen: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.mode = Mode(self.mode)
        if not self.version:
            self.version = "3.4.3.12-enterprise-edition" if self.mode.enterprise else "3.9.1"
        self.node_id = self.node_id or str(uuid.uuid4())
        self.hostname = self.hostname or self.name
        self.configuration_hash = self.configuration_hash or _DEFAULT_CONFIGURATION_HASH
        if not self.mode.dbless and self.datastore is None:
            raise ValueError(f"node {self.name!r}: mode {self.mode} needs a datastore")
        dbless_role = {"control_plane": False, "data_plane": True}.get(self.role)
        if self.role != "traditional" and dbless_role != self.mode.dbless:
            raise ValueError(f"node {self.name!r}: role {self.role!r} cannot run in {self.mode}")


_NODE_KEY: web.RequestKey[SimNode] = web.RequestKey("sim_node", SimNode)


@dataclasses.dataclass(frozen=True)
class _Figures:
    """What a node reports, wherever it comes from (shared datastore or its own fields)."""

    scope: str
    counters: dict[str, int]
    db_version: str
    totals: dict[str, int]
    serviceless_routes: int = 0
    plugins: tuple[SimPlugin, ...] = ()


def _figures(node: SimNode) -> _Figures:
    if node.datastore is not None and not node.mode.dbless:
        source: Datastore | SimNode = node.datastore
        scope, db_version = node.datastore.cluster_id, node.datastore.db_version
    else:
        source, scope, db_version = node, node.configuration_hash, "off"
    totals = {
        "services": source.services,
        "routes": source.routes,
        "consumers": source.consumers,
        "plugins": len(source.plugins),
        "workspaces": max(1, source.workspaces),
        "rbac/users": source.rbac_users,
        _DATA_PLANES: source.data_planes,
    }
    return _Figures(
        scope=scope,
        counters=source.counters,
        db_version=db_version,
        totals=totals,
        serviceless_routes=source.serviceless_routes,
        plugins=source.plugins,
    )


def _at_least(version: str, wanted: tuple[int, int]) -> bool:
    """Whether a Kong version string ("3.5.0.0-enterprise-edition") is ``wanted`` or later."""
    parts = version.split("-")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= wanted
    except (ValueError, IndexError):
        return False


# --- bodies --------------------------------------------------------------------------------


def _info(node: SimNode, figures: _Figures) -> dict[str, object]:
    plugins = ["acl", "basic-auth", "cors", "key-auth", "prometheus", "rate-limiting"]
    if node.mode.enterprise:
        plugins += ["openid-connect", "rate-limiting-advanced"]
    plugin_version = node.version.removesuffix("-enterprise-edition")
    configuration: dict[str, object] = {
        "database": "off" if node.mode.dbless else "postgres",
        "role": node.role,
        "admin_listen": ["0.0.0.0:8001", "0.0.0.0:8444 ssl"],
        "proxy_listen": ["0.0.0.0:8000", "0.0.0.0:8443 ssl"],
        "log_level": "notice",
        "nginx_worker_processes": "auto",
    }
    if node.mode.enterprise:
        configuration["enforce_rbac"] = "on" if node.token is not None else "off"
    if not node.mode.dbless:
        # Kong masks secrets in this listing; the admin token is never in it.
        configuration.update({"pg_host": "postgres", "pg_port": 5432, "pg_password": _MASKED})
    return {
        "tagline": "Welcome to kong",
        "version": node.version,
        "edition": "enterprise" if node.mode.enterprise else "community",
        "hostname": node.hostname,
        "node_id": node.node_id,
        "lua_version": "LuaJIT 2.1.0-20231117",
        "timers": {"running": 0, "pending": 7},
        "plugins": {
            "available_on_server": {
                name: {"version": plugin_version, "priority": 1000 - i}
                for i, name in enumerate(plugins)
            },
            "enabled_in_cluster": [],
        },
        "configuration": configuration,
        "pids": {"master": 1, "workers": [1001, 1002]},
    }


def _status(node: SimNode) -> dict[str, object]:
    handled = node.total_requests // 10 + 1
    body: dict[str, object] = {
        "memory": {
            "workers_lua_vms": [{"http_allocated_gc": "52.39 MiB", "pid": 1001}],
            "lua_shared_dicts": {"kong": {"allocated_slabs": "0.04 MiB", "capacity": "5.00 MiB"}},
        },
        "server": {
            "connections_active": 2,
            "connections_reading": 0,
            "connections_writing": 1,
            "connections_waiting": 1,
            "connections_accepted": handled,
            "connections_handled": handled,
            "total_requests": node.total_requests,
        },
    }
    if node.mode.dbless:
        body["configuration_hash"] = node.configuration_hash
    else:
        body["database"] = {"reachable": True}
    return body


def _plugins_count(figures: _Figures) -> dict[str, object]:
    """Kong 3.5's ``plugins_count``, computed the way its Lua does."""
    tiers: dict[str, dict[str, int]] = {"free": {}, "enterprise": {}, "custom": {}}
    functions: set[object] = set()
    brokers: set[str] = set()
    for plugin in figures.plugins:
        tier = (
            "free"
            if plugin.name in _FREE_PLUGINS
            else "enterprise"
            if plugin.name in _ENTERPRISE_PLUGINS
            else "custom"
        )
        tiers[tier][plugin.name] = tiers[tier].get(plugin.name, 0) + 1
        route_only = (
            plugin.route is not None
            and plugin.service is None
            and plugin.consumer is None
            and plugin.consumer_group is None
            and _serviceless(figures, plugin.route)
        )
        if route_only and plugin.name == "aws-lambda":
            functions.add(plugin.config.get("function_name"))
        if route_only and plugin.name == "kafka-upstream":
            servers = plugin.config.get("bootstrap_servers")
            for broker in servers if isinstance(servers, list) else []:
                if isinstance(broker, dict):
                    brokers.add(f"{broker.get('host')}:{broker.get('port')}")
    return {
        "tiers": tiers,
        "unique_route_lambdas": len(functions),
        "unique_route_kafkas": len(brokers),
    }


def _serviceless(figures: _Figures, route: int) -> bool:
    """Whether route ``route`` (an index from 0) has no service."""
    total_routes = figures.totals["routes"]
    return route >= total_routes - figures.serviceless_routes or not figures.totals["services"]


def _license_report(node: SimNode, figures: _Figures) -> dict[str, object]:
    """The 2.7-3.4 shape (``consumers_count`` included, as from late 2022), or 3.5's."""
    if _at_least(node.version, (3, 5)):
        return _license_report_3_5(node, figures)
    buckets = sorted(figures.counters.items(), key=lambda kv: (kv[0] == UNKNOWN_BUCKET, kv[0]))
    return {
        "counters": [{"bucket": b, "request_count": n} for b, n in buckets],
        "db_version": figures.db_version,
        "kong_version": node.version,
        "license_key": node.license_key if node.license_key is not None else "UNLICENSED",
        "rbac_users": figures.totals["rbac/users"],
        "services_count": figures.totals["services"],
        "consumers_count": figures.totals["consumers"],
        "workspaces_count": figures.totals["workspaces"],
        "system_info": {"cores": node.cores, "hostname": node.hostname, "uname": node.uname},
    }


def _license_report_3_5(node: SimNode, figures: _Figures) -> dict[str, object]:
    """The 3.5+ shape, as ``get_license_report`` builds it (buckets in no set order)."""
    deployment: dict[str, object] = {"type": "traditional"}
    if node.mode.dbless:
        deployment = {"type": "dbless"}
    elif node.role == "control_plane":
        deployment = {"type": "hybrid", "connected_dp_count": figures.totals[_DATA_PLANES]}
    licensed = node.license_key is not None
    report: dict[str, object] = {
        "timestamp": int(datetime.datetime.now(datetime.UTC).timestamp()),
        "kong_version": node.version,
        "db_version": figures.db_version,
        "system_info": {"cores": node.cores, "hostname": node.hostname, "uname": node.uname},
        "deployment_info": deployment,
        "license": {
            "license_key": node.license_key if licensed else "UNLICENSED",
            "license_expiration_date": node.license_expiration_date if licensed else "2017-7-20",
        },
        "counters": {
            "total_requests": sum(figures.counters.values()),
            # An empty Lua table: Kong's JSON encoder writes {} for it.
            "buckets": [{"bucket": b, "request_count": n} for b, n in figures.counters.items()]
            or {},
        },
        "rbac_users": figures.totals["rbac/users"],
        "workspaces_count": figures.totals["workspaces"],
        "services_count": figures.totals["services"],
        "routes_count": figures.totals["routes"],
        "consumers_count": figures.totals["consumers"],
        "plugins_count": _plugins_count(figures),
    }
    # Kong hashes its Lua inspect() rendering; any stable rendering will do here.
    rendering = json.dumps(report, sort_keys=True).encode()
    report["checksum"] = hashlib.sha1(rendering, usedforsecurity=False).hexdigest()
    return report


# --- paged lists ---------------------------------------------------------------------------


def _entity_id(scope: str, kind: str, index: int) -> str:
    """A uuid-looking id that carries its index, so offsets decode without any stored state."""
    h = hashlib.sha256(f"{scope}/{kind}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{index:012x}"


def _entity(kind: str, figures: _Figures, index: int) -> dict[str, object]:
    scope = figures.scope
    common: dict[str, object] = {
        "id": _entity_id(scope, kind, index),
        "created_at": _CREATED_AT + index,
        "updated_at": _CREATED_AT + index,
    }
    ws: dict[str, object] = {"ws_id": _entity_id(scope, "workspaces", 0)}
    if kind == "services":
        return common | ws | {"name": f"service-{index}", "host": f"upstream-{index}.internal",
                              "port": 80, "protocol": "http", "path": None, "retries": 5,
                              "connect_timeout": 60000, "read_timeout": 60000,
                              "write_timeout": 60000, "enabled": True, "tags": None}  # fmt: skip
    if kind == "routes":
        service = None
        if not _serviceless(figures, index):
            services = figures.totals["services"]
            service = {"id": _entity_id(scope, "services", index % services)}
        return common | ws | {"name": f"route-{index}", "protocols": ["http", "https"],
                              "paths": [f"/r{index}"], "methods": None, "hosts": None,
                              "strip_path": True, "preserve_host": False, "service": service,
                              "tags": None}  # fmt: skip
    if kind == "consumers":
        return common | ws | {"username": f"consumer-{index}", "custom_id": None, "tags": None}
    if kind == "plugins":
        plugin = figures.plugins[index]

        def ref(entity: str, number: int | None) -> dict[str, str] | None:
            return None if number is None else {"id": _entity_id(scope, entity, number)}

        body = common | ws | {"name": plugin.name, "instance_name": None,
                              "route": ref("routes", plugin.route),
                              "service": ref("services", plugin.service),
                              "consumer": ref("consumers", plugin.consumer),
                              "config": plugin.config, "enabled": True, "tags": None,
                              "consumer_group": None if plugin.consumer_group is None
                              else {"id": plugin.consumer_group},
                              "protocols": ["grpc", "grpcs", "http", "https"]}  # fmt: skip
        return body
    if kind == _DATA_PLANES:
        address = f"10.0.{index // 250}.{index % 250 + 1}"
        return {"id": common["id"], "hostname": f"dp-{index}", "ip": address,
                "last_seen": _CREATED_AT + index, "config_hash": "0" * 32,
                "version": "3.5.0.0", "sync_status": "normal", "updated_at": _CREATED_AT + index,
                "labels": {}, "cert_details": {"expiry_timestamp": _CREATED_AT + 10**8},
                }  # fmt: skip
    if kind == "workspaces":
        name = "default" if index == 0 else f"workspace-{index}"
        return common | {"name": name, "comment": None, "meta": {"color": None},
                         "config": {"portal": False}}  # fmt: skip
    return common | ws | {"name": f"user-{index}", "comment": None, "enabled": True}


def _workspace_exists(name: str, count: int) -> bool:
    if name == "default":
        return True
    number = name.removeprefix("workspace-")
    return number != name and number.isdigit() and 1 <= int(number) < count


def _list_kind(node: SimNode, figures: _Figures, path: str) -> str | None:
    """Which list a path asks for; Enterprise also takes a ``/{workspace}`` prefix."""
    kind: str | None = path[1:]
    if kind not in _LISTS and node.mode.enterprise:
        workspace, _, kind = path[1:].partition("/")
        if kind == "workspaces" or not _workspace_exists(workspace, figures.totals["workspaces"]):
            kind = None
    if kind not in _LISTS or (kind in _EE_ONLY_LISTS and not node.mode.enterprise):
        return None
    return kind


def _page(request: web.Request, *, kind: str, figures: _Figures) -> tuple[int, object]:
    """One page, as Kong's postgres strategy pages: an opaque cursor, no offset on the last."""
    size_arg = request.query.get("size")
    size = _DEFAULT_PAGE
    if size_arg is not None:
        try:
            number = float(size_arg)
        except ValueError:
            return 400, {"code": 9, "name": "invalid size", "message": "size must be a number"}
        if not number.is_integer() or not 1 <= number <= _MAX_PAGE:
            message = f"size must be an integer between 1 and {_MAX_PAGE}"
            return 400, {"code": 9, "name": "invalid size", "message": message}
        size = int(number)
    start = 0
    offset_arg = request.query.get("offset")
    if offset_arg is not None:
        index = _decode_offset(offset_arg, figures.scope, kind)
        if isinstance(index, str):
            message = f"'{offset_arg}' is not a valid offset: {index}"
            return 400, {"code": 7, "name": "invalid offset", "message": message}
        start = index + 1
    total = figures.totals[kind]
    end = min(start + size, total)
    body: dict[str, object] = {
        "data": [_entity(kind, figures, i) for i in range(start, end)],
        "next": None,
    }
    if end < total:
        token = _encode_offset(_entity_id(figures.scope, kind, end - 1))
        # Kong carries size over into next only when the client gave one.
        carried = f"&size={size_arg}" if size_arg is not None else ""
        body["next"] = f"/{kind}?offset={urllib.parse.quote(token, safe='')}{carried}"
        body["offset"] = token
    return 200, body


def _encode_offset(entity_id: str) -> str:
    """Like Kong's postgres cursor: base64 of the JSON primary key, padding stripped."""
    return base64.b64encode(json.dumps([entity_id]).encode()).decode().rstrip("=")


def _decode_offset(token: str, scope: str, kind: str) -> int | str:
    """The index after which the next page starts, or Kong's reason the offset is invalid."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "bad base64 encoding"
    try:
        decoded = json.loads(raw)
    except ValueError:
        return "bad json encoding"
    if not (isinstance(decoded, list) and len(decoded) == 1 and isinstance(decoded[0], str)):
        return "bad json encoding"
    prefix, _, index = decoded[0].rpartition("-")
    if prefix != _entity_id(scope, kind, 0).rpartition("-")[0] or len(index) != 12:
        return "unknown cursor"
    return int(index, 16)


# --- routing -------------------------------------------------------------------------------


def _route(node: SimNode, request: web.Request) -> tuple[int, object]:
    """What a healthy node answers: status and JSON body."""
    if node.token is not None and request.headers.get("Kong-Admin-Token") != node.token:
        return 401, {"message": faults.message_for(401)}
    figures = _figures(node)
    path = request.path
    kind = _list_kind(node, figures, path)
    report = path == "/license/report" and node.mode.enterprise
    if path not in ("/", "/status", "/" + _DATA_PLANES) and not report and kind is None:
        return 404, _NOT_FOUND
    if request.method not in ("GET", "HEAD"):
        return 405, {"message": faults.message_for(405)}
    if path == "/" + _DATA_PLANES:
        if node.role != "control_plane":
            return 400, {"message": _NOT_A_CONTROL_PLANE}
        return _page(request, kind=_DATA_PLANES, figures=figures)
    if path == "/":
        return 200, _info(node, figures)
    if path == "/status":
        return 200, _status(node)
    if kind is not None:
        return _page(request, kind=kind, figures=figures)
    return 200, _license_report(node, figures)


_NO_FAULT = faults.Fault()


def _assign_addresses(nodes: Sequence[SimNode], first_address: str) -> None:
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
        nodes: Sequence[SimNode],
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        first_address: str = "127.0.0.2",
    ) -> None:
        self.nodes: tuple[SimNode, ...] = tuple(nodes)
        self._by_name = {node.name: node for node in self.nodes}
        if len(self._by_name) != len(self.nodes):
            raise ValueError("node names must be unique")
        _assign_addresses(self.nodes, first_address)
        self._by_address = {node.address: node for node in self.nodes}
        self._requested_port = port
        self._port: int | None = port or None
        self._ssl_context = ssl_context
        self._first_address = first_address
        self._runner: web.AppRunner | None = None
        self._sites: dict[str, web.TCPSite] = {}
        self._inflight: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the port is chosen when the fleet starts")
        return self._port

    def node(self, name: str) -> SimNode:
        return self._by_name[name]

    def url(self, node: SimNode | str) -> str:
        target = self._by_name[node] if isinstance(node, str) else node
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{target.address}:{self.port}"

    def set_fault(self, name: str, fault: faults.Fault) -> None:
        self._by_name[name].fault = fault

    async def set_refuse(self, name: str, refuse: bool) -> None:
        """Stop or restart one node's listener; stopping also drops its open connections."""
        node = self._by_name[name]
        node.refuse = refuse
        if self._runner is None:
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
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()

    async def _start_sites(self) -> None:
        listening = [node for node in self.nodes if not node.refuse]
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

    async def _start_site(self, node: SimNode, port: int) -> None:
        assert self._runner is not None
        site = web.TCPSite(
            self._runner, node.address, port, ssl_context=self._ssl_context, backlog=1024
        )
        await site.start()
        self._sites[node.address] = site

    async def _stop(self) -> None:
        if self._runner is None:
            return
        for site in self._sites.values():
            await site.stop()
        self._sites.clear()
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
        request[_NODE_KEY] = node
        node.requests_seen.append(request.path)
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            fault = node.fault if node.fault.applies_to(request.path) else _NO_FAULT
            if fault.latency > 0:
                await asyncio.sleep(fault.latency)
            if fault.hang:
                await faults.hang()
            status, body = _route(node, request)
            return await faults.answer(request, fault=fault, status=status, body=body)
        finally:
            self._inflight.discard(task)

    @staticmethod
    async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
        node = request.get(_NODE_KEY)
        response.headers["Server"] = f"kong/{node.version}" if node is not None else "kong"
        response.headers["Access-Control-Allow-Origin"] = "*"


# --- a fleet in its own process (benchmarks) -----------------------------------------------


def demo_nodes(
    *, count: int, mode: Mode, bucket: str, latency: float = 0.0, services: int = 0
) -> list[SimNode]:
    """Nodes with deterministic figures; the fleet total is the same in every mode.

    Node ``i`` (from 0) is named ``kong-i`` and counts ``100 + i`` requests in
    ``bucket`` plus 1 in ``UNKNOWN``. DB modes put those totals in one shared
    datastore instead, which every node reports whole.
    """
    names = [f"kong-{i}" for i in range(count)]
    own = [{bucket: 100 + i, UNKNOWN_BUCKET: 1} for i in range(count)]
    datastore = None
    if not mode.dbless:
        cluster = {bucket: sum(c[bucket] for c in own), UNKNOWN_BUCKET: count}
        datastore = Datastore(counters=cluster, services=services, cluster_id="demo")
    return [
        SimNode(
            name=name,
            mode=mode,
            node_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"license-report-sim/{name}")),
            counters=own[i] if mode == Mode.EE_DBLESS else {},
            services=services,
            datastore=datastore,
            total_requests=101 + i,
            fault=faults.Fault(latency=latency),
        )
        for i, name in enumerate(names)
    ]


def _parser() -> argparse.ArgumentParser:
    this_month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    parser = argparse.ArgumentParser(
        prog="python -m license_report_sandbox.kong",
        description=(
            "Run simulated Kong nodes until SIGTERM/SIGINT. Prints one JSON line "
            '{"port", "urls", "nodes": [{"name", "url", "hostname", "node_id"}]} once '
            "listening. Node i (from 0) is kong-i and counts 100+i requests in BUCKET "
            "plus 1 in UNKNOWN (ee-dbless: on its own /license/report; ee-db: the "
            "cluster totals sum(100+i) and COUNT, shown by every node). "
            "/status total_requests is 101+i. The line is about 250 bytes per node: "
            "readers of a large fleet need a line limit above asyncio's 64 KiB default."
        ),
    )
    parser.add_argument("--count", type=int, default=3, help="number of nodes (default 3)")
    parser.add_argument("--mode", type=Mode, choices=list(Mode), default=Mode.EE_DBLESS)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--first-address", default="127.0.0.2")
    parser.add_argument("--bucket", default=this_month, help="YYYY-MM (default: this month)")
    parser.add_argument("--services", type=int, default=0, help="services per node/cluster")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    nodes = demo_nodes(
        count=args.count,
        mode=args.mode,
        bucket=args.bucket,
        latency=args.latency,
        services=args.services,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Fleet(nodes, port=args.port, first_address=args.first_address) as fleet:
            listing = [
                {"name": n.name, "url": fleet.url(n), "hostname": n.hostname, "node_id": n.node_id}
                for n in nodes
            ]
            line = {"port": fleet.port, "urls": [n["url"] for n in listing], "nodes": listing}
            print(json.dumps(line), flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # uvloop: a thousand simulated nodes in one process must not be the
    # bottleneck of the benchmark that measures the collector.
    import uvloop

    return uvloop.run(_serve(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
