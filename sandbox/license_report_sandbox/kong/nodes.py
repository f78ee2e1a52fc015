"""The node model: a Kong node's version, mode and role, and the requests it counts.

A node proxies requests (`SimNode.proxy`), counts them in shared memory as
Kong's log phase does, and flushes them (`SimNode.flush`) through the strategy
Kong would choose for it (kong-research.md §6-7): ``postgres`` into its
cluster's `store.Datastore`, ``clustering`` to its control plane (which writes
them under the data plane's ``node_id`` with its own clock), or ``off``
(dropped). `SimNode.proxied` keeps the true count per UTC month, so a test can
compare a report with what really went through the gateways.

Every request the node's nginx serves is also counted by kind (`SimNode.serve`,
`nginx.Kind`) into ``total_requests``, nginx's counter, which `SimNode.restart`
(a new nginx master) sets back to 0 with the Prometheus series; what
``/metrics`` shows of them is `prometheus`'s business.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections import Counter
from collections.abc import Callable

from license_report_sandbox import faults
from license_report_sandbox.kong import nginx, prometheus, store, versions

UNKNOWN_BUCKET = store.UNKNOWN_BUCKET
#: `SimNode.prometheus`'s values.
PROMETHEUS_SETTINGS = (None, "default", "status_code_metrics")
SimPlugin = store.SimPlugin
Datastore = store.Datastore
#: The path (without its slash) of a control plane's list of its data planes.
DATA_PLANES = "clustering/data-planes"
#: ``cluster_telemetry_endpoint``'s default (e95e9e897c:kong/templates/kong_defaults.lua:355):
#: a data plane that keeps it sends its counts to itself, where nothing listens.
DEFAULT_TELEMETRY_ENDPOINT = "127.0.0.1:8006"
_DEFAULT_CONFIGURATION_HASH = "a9a166c59873245db8f1a747ba9a80a7"


class Mode(enum.StrEnum):
    """Edition and datastore: ``*_DB`` run on PostgreSQL, ``*_DBLESS`` with ``database = off``."""

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


class Strategy(enum.StrEnum):
    """The sales counters strategy Kong picks (``_M.new``, e95e9e897c:…/sales/init.lua:295-326)."""

    NONE = "none"  # Kong OSS: no sales counters at all
    POSTGRES = "postgres"  # traditional node on PostgreSQL
    OFF = "off"  # DB-less, or a hybrid node with telemetry NONE (3.6+)
    CLUSTERING = "clustering"  # hybrid: DP producer, CP consumer (pull reads PostgreSQL)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(eq=False)
class SimNode:
    """One simulated gateway node; empty fields get Kong-like defaults."""

    name: str
    mode: Mode
    #: Kong's ``role``: "traditional", "control_plane" (DB mode) or "data_plane" (DB-less).
    role: str = "traditional"
    address: str = ""
    #: As Kong shows it; normalised (2.x Enterprise gains ``-enterprise-edition``, 3.x loses it).
    version: str = ""
    node_id: str = ""
    hostname: str = ""
    cores: int = 4
    uname: str = "Linux x86_64"
    #: Requests this node proxied before the simulation, by bucket ("YYYY-MM" or "UNKNOWN"),
    #: flushed at creation through the node's strategy: into the datastore (DB mode), to
    #: its control plane (data plane with telemetry), or nowhere (DB-less: ``off``).
    counters: dict[str, int] = dataclasses.field(default_factory=dict)
    #: DB-less: this node's declarative configuration (DB mode: the datastore's).
    services: int = 0
    routes: int = 0
    serviceless_routes: int = 0
    consumers: int = 0
    workspaces: int = 1
    rbac_users: int = 0
    plugins: tuple[SimPlugin, ...] = ()
    data_planes: int = 0
    #: DB mode: the cluster's datastore (`store.Datastore`, or `store.PostgresStore`).
    datastore: store.Datastore | store.PostgresStore | None = None
    #: Hybrid data plane: its control plane (where telemetry goes, if it reaches it).
    control_plane: SimNode | None = None
    #: ``cluster_telemetry_endpoint``: the default reaches nothing; ``"NONE"`` is Kong's
    #: explicit off (3.6+: the ``off`` strategy); anything else reaches ``control_plane``.
    telemetry_endpoint: str = DEFAULT_TELEMETRY_ENDPOINT
    #: ``KONG_KONNECT_MODE=on``: a Konnect data plane (no Admin API; usage lives in Konnect).
    konnect: bool = False
    #: ``healthz_ids``: route ids whose requests are not counted (3.7+, 918faf3110).
    healthz_ids: frozenset[str] = frozenset()
    #: The node's local clock (``os.date`` without ``!``): real UTC plus ``clock_skew``.
    clock: Callable[[], datetime.datetime] = _utcnow
    clock_skew: datetime.timedelta = datetime.timedelta(0)
    #: nginx's ``stub_status`` requests since its master started, as ``/status`` shows it:
    #: the value given (what it served before the simulation) plus every request `serve`d.
    total_requests: int = 0
    configuration_hash: str = ""
    #: The license payload's ``license_key``; None -> unlicensed (Kong's built-in payload).
    license_key: str | None = None
    #: Kong 3.5+ shows it beside the key (unlicensed: its built-in "2017-7-20").
    license_expiration_date: str = "2030-01-01"
    license_creation_date: str = "2024-01-01"
    #: When set, every request needs ``Kong-Admin-Token: <token>`` (RBAC on).
    token: str | None = None
    #: ``admin_gui_auth`` set (Kong Manager auth): changes RBAC's 401 message.
    admin_gui_auth: bool = False
    fault: faults.Fault = dataclasses.field(default_factory=faults.Fault)
    refuse: bool = False
    #: The path of every request this node received, in order.
    requests_seen: list[str] = dataclasses.field(default_factory=list)
    #: The truth: proxied requests per UTC month ("YYYY-MM"), whatever Kong kept of them.
    proxied: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Counted in shared memory, not yet flushed.
    pending: int = 0
    #: Requests this data plane sent its control plane, and those lost on the way.
    sent: int = 0
    lost: int = 0
    #: Prometheus plugin instances: None (none configured: 3.2+ shows no shm metrics),
    #: ``"default"`` (a global instance as the schema defaults it: 3.0+ counts no requests),
    #: ``"status_code_metrics"`` (a global instance with the flag on). The plugin is loaded
    #: (``plugins = bundled``) either way, so ``/metrics`` answers on the status listener.
    prometheus: str | None = None
    #: Requests served since this nginx master started, by kind (`total_requests` is their sum
    #: plus the value given at creation); `served_ever` keeps counting across restarts.
    served: Counter[nginx.Kind] = dataclasses.field(default_factory=Counter)
    served_ever: Counter[nginx.Kind] = dataclasses.field(default_factory=Counter)
    #: The Prometheus plugin's per-route counter (shm), since this master started.
    series: dict[nginx.Series, int] = dataclasses.field(default_factory=dict)
    #: New nginx masters after the first (container restarts).
    restarts: int = 0
    #: After ``kong quit``'s wait: the listeners are closed, nothing is served.
    stopped: bool = False
    release: versions.Release = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.mode = Mode(self.mode)
        if self.prometheus not in PROMETHEUS_SETTINGS:
            raise ValueError(f"node {self.name!r}: prometheus must be one of {PROMETHEUS_SETTINGS}")
        default = "3.4.3.12" if self.mode.enterprise else "3.9.1"
        self.release = versions.parse(self.version or default, enterprise=self.mode.enterprise)
        self.version = self.release.version
        self.node_id = self.node_id or str(uuid.uuid4())
        self.hostname = self.hostname or self.name
        self.configuration_hash = self.configuration_hash or _DEFAULT_CONFIGURATION_HASH
        if self.konnect:
            self.role = "data_plane"
        if not self.mode.dbless and self.datastore is None:
            raise ValueError(f"node {self.name!r}: mode {self.mode} needs a datastore")
        dbless_role = {"control_plane": False, "data_plane": True}.get(self.role)
        if self.role != "traditional" and dbless_role != self.mode.dbless:
            raise ValueError(f"node {self.name!r}: role {self.role!r} cannot run in {self.mode}")
        history, self.counters = self.counters, dict(self.counters)
        for bucket, requests in history.items():
            year, month = store.parse_bucket(bucket)
            self._flush_history(year=year, month=month, requests=requests)

    # --- what Kong renders and chooses ---------------------------------------------

    @property
    def serves_admin_api(self) -> bool:
        """The ``kong_admin`` server is rendered only for ``control_plane`` and
        ``traditional`` (e95e9e897c:kong/templates/nginx_kong.lua:670)."""
        return self.role != "data_plane"

    @property
    def database(self) -> str:
        return "off" if self.mode.dbless else "postgres"

    @property
    def strategy(self) -> Strategy:
        if not self.mode.enterprise:
            return Strategy.NONE
        hybrid = self.role != "traditional"
        if hybrid and self.telemetry_endpoint == "NONE" and self.release.at_least(versions.V3_6):
            return Strategy.OFF  # abc2579022
        if hybrid:
            return Strategy.CLUSTERING
        return Strategy.OFF if self.mode.dbless else Strategy.POSTGRES

    @property
    def keeps_counters(self) -> bool:
        """Whether ``pull_data`` returns rows: ``off`` returns nothing, so no ``counters`` key.
        A data plane's own ``pull_data`` is the wrapped ``off`` one (it has no Admin API anyway)."""
        if self.strategy is Strategy.CLUSTERING:
            return self.role == "control_plane"
        return self.strategy is Strategy.POSTGRES

    def local_now(self) -> datetime.datetime:
        return self.clock() + self.clock_skew

    def source(self) -> store.Datastore | store.PostgresStore | store.Declarative:
        """Where ``kong.db`` reads: the datastore in DB mode, the node's own config DB-less."""
        if self.datastore is not None and not self.mode.dbless:
            return self.datastore
        return store.Declarative(
            services=self.services,
            routes=self.routes,
            serviceless_routes=self.serviceless_routes,
            consumers=self.consumers,
            rbac_users=self.rbac_users,
            plugins=self.plugins,
            scope=self.configuration_hash,
        )

    # --- counting ---------------------------------------------------------------------

    def serve(self, kind: nginx.Kind, count: int = 1) -> None:
        """nginx reads ``count`` requests of ``kind``: its counter goes up before any handler."""
        if self.stopped:
            raise RuntimeError(f"node {self.name!r} has stopped: its listeners are closed")
        self.total_requests += count
        self.served[kind] += count
        self.served_ever[kind] += count

    def restart(self) -> None:
        """A new nginx master (the container restarted): nginx's counter and the Prometheus shm
        start at 0 (kong-research-metering.md §1e, §2: the shared zone is allocated anew).

        ``node_id`` is Kong's shm-generated id, new at each start
        (a643428bc4:kong/pdk/node.lua:72-93, 299-301), except on a ``data_plane`` from 3.1,
        which reads it back from ``<prefix>/kong.id`` (a643428bc4:kong/pdk/private/node.lua:
        16-53, 72-97; pdk/node.lua:286-297; 630f58de86): the chart's prefix is an emptyDir
        (e76b80031a:charts/kong/ci/__snapshots__/default-values.snap:1013-1015), which a
        container restart keeps and a new pod does not.
        """
        keeps_id = self.role == "data_plane" and self.release.at_least(versions.V3_1)
        if not keeps_id:
            self.node_id = str(uuid.uuid4())
        self.total_requests = 0
        self.served.clear()
        self.series.clear()
        self.pending = 0  # the sales counters' shm went with the master
        self.restarts += 1
        self.stopped = False

    def reload(self) -> None:
        """``kong reload`` (SIGHUP): nginx keeps its shared zones and counters, so nothing here
        changes (b8fb83b8d2:src/core/ngx_cycle.c:465-473; 0e769b7643:src/ngx_http_lua_shdict.c:
        70-84; b8fb83b8d2:src/event/ngx_event.c:545-547)."""

    def proxy(
        self,
        count: int = 1,
        *,
        route_id: str | None = None,
        route: nginx.Route | None = nginx.DEFAULT_ROUTE,
        code: int = 200,
        at: datetime.datetime | None = None,
    ) -> None:
        """``count`` proxied requests reach this node's log phase (``log_request``).

        ``route`` None: no route matched (Kong answers 404 itself); Kong's sales counter
        counts them all the same, the Prometheus plugin does not (`prometheus.counts`).
        ``at``: when they were served (the truth's month), default the node's clock now.
        """
        if self.role == "control_plane":
            raise ValueError("a control plane renders no proxy server (nginx_kong.lua:85)")
        self.serve(nginx.Kind.UNROUTED if route is None else nginx.Kind.ROUTED, count)
        if route is not None and prometheus.counts(
            release=self.release, setting=self.prometheus, route=route
        ):
            series = prometheus.series(route, code=code)
            self.series[series] = self.series.get(series, 0) + count
        month = (at or self.clock()).strftime("%Y-%m")
        self.proxied[month] = self.proxied.get(month, 0) + count
        if not self.mode.enterprise:
            return
        if route_id in self.healthz_ids and self.release.at_least(versions.V3_7):
            return  # 918faf3110: log_request returns early for healthz routes
        self.pending += count

    async def flush(self) -> None:
        """The flush timer: hand what shared memory holds to the strategy, then forget it.

        Like Kong, an idle node still flushes a 0 (a ``(node_id, year, month)`` row
        with ``req_cnt + 0``, 391a5ccef6:kong/counters/sales/init.lua:228-256).
        """
        if self.strategy is Strategy.NONE:
            return
        requests, self.pending = self.pending, 0
        # init() starts no timer when the endpoint is NONE (3.6+, L351-355).
        if self.telemetry_endpoint == "NONE" and self.release.at_least(versions.V3_6):
            return
        if self.strategy is Strategy.POSTGRES:
            assert self.datastore is not None
            now = self.local_now()
            await self.datastore.flush(
                node_id=self.node_id, year=now.year, month=now.month, requests=requests
            )
        elif self.strategy is Strategy.CLUSTERING and self.role == "data_plane":
            await self._send(requests)

    async def _send(self, requests: int) -> None:
        control = self.control_plane
        reaches = self.telemetry_endpoint not in (DEFAULT_TELEMETRY_ENDPOINT, "NONE")
        if control is None or not reaches or control.strategy is not Strategy.CLUSTERING:
            self.lost += requests  # nothing listens, or the CP consumes nothing
            return
        assert control.datastore is not None
        now = control.local_now()  # the CP's clock at ingest
        await control.datastore.flush(
            node_id=self.node_id, year=now.year, month=now.month, requests=requests
        )
        self.sent += requests

    def _flush_history(self, *, year: int, month: int, requests: int) -> None:
        """``counters`` given at creation: rows as the strategy would have left them."""
        bucket = store.UNKNOWN_BUCKET if year == 0 else f"{year:04d}-{month:02d}"
        self.proxied[bucket] = self.proxied.get(bucket, 0) + requests
        target: store.Datastore | store.PostgresStore | None = None
        if self.strategy is Strategy.POSTGRES:
            target = self.datastore
        elif self.strategy is Strategy.CLUSTERING and self.role == "data_plane":
            control = self.control_plane
            reaches = self.telemetry_endpoint not in (DEFAULT_TELEMETRY_ENDPOINT, "NONE")
            if control is not None and reaches and control.strategy is Strategy.CLUSTERING:
                target = control.datastore
        if isinstance(target, store.Datastore):
            target.upsert(node_id=self.node_id, year=year, month=month, requests=requests)
        elif target is not None:
            raise ValueError("history on a PostgreSQL datastore: seed license_data instead")
