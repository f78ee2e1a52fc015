"""The node model: Kong's modes, one simulated node's state, and the datastore DB-mode nodes share.

In DB mode every node of a cluster shows the same cluster-wide figures from one
shared `Datastore`, exactly as real Kong does, which is what lets tests catch a
collector that adds them up once per node. In DB-less mode each node shows its
own. `figures` is that choice, made once per request, for the endpoint bodies.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid

from license_report_sandbox import faults

UNKNOWN_BUCKET = "UNKNOWN"
#: The path (without its slash) of a control plane's list of its data planes.
DATA_PLANES = "clustering/data-planes"
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


@dataclasses.dataclass(frozen=True)
class Figures:
    """What a node reports, wherever it comes from (shared datastore or its own fields)."""

    scope: str
    counters: dict[str, int]
    db_version: str
    totals: dict[str, int]
    serviceless_routes: int = 0
    plugins: tuple[SimPlugin, ...] = ()


def figures(node: SimNode) -> Figures:
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
        DATA_PLANES: source.data_planes,
    }
    return Figures(
        scope=scope,
        counters=source.counters,
        db_version=db_version,
        totals=totals,
        serviceless_routes=source.serviceless_routes,
        plugins=source.plugins,
    )


def serviceless(figures: Figures, route: int) -> bool:
    """Whether route ``route`` (an index from 0) has no service."""
    total_routes = figures.totals["routes"]
    return route >= total_routes - figures.serviceless_routes or not figures.totals["services"]
