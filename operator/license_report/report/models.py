"""Pydantic models of what a report is made of and what it is made from.

The output models (``KongReport``, ``KongReport35``, ``NodeEntry``,
``Failure``) are the files users hand to Kong: their field names and types
follow Kong's own ``GET /license/report`` (2.7 to 3.4, and 3.5 on). The input
models are what the sources layer hands to aggregation, already checked, so
aggregation never sees a raw dict.
"""

from __future__ import annotations

import datetime
import enum
import urllib.parse
from typing import Any

import pydantic

from license_report.api import errors

# --- the report, exactly as Kong shapes it -----------------------------------------


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Counter(_Strict):
    bucket: str
    request_count: int = pydantic.Field(ge=0)


class SystemInfo(_Strict):
    """Kong's ``system_info``: ``{cores, uname}`` (``getconf _NPROCESSORS_ONLN``, ``uname
    -ms``). No hostname: Kong has written none since 2.3 (8a25e5e873)."""

    # ``None`` (JSON null) means "not known": the hosts' facts could not be read
    # and the report says so rather than inventing a figure.
    cores: int | None
    uname: str | None


def _without(body: dict[str, object], *keys: str) -> dict[str, object]:
    """``body`` without the ``keys`` whose value is ``None``: a Lua nil is no key at all."""
    return {key: value for key, value in body.items() if key not in keys or value is not None}


def _empty_as_object(value: object) -> object:
    """cjson writes an empty Lua table as ``{}``: an empty bucket list is ``{}``, not ``[]``."""
    return {} if value == [] else value


class KongReport(_Strict):
    """``report.json``: the shape of Kong Enterprise 2.7-3.4 ``/license/report``.

    ``counters`` is ``None`` when no node keeps counters and there is no
    datastore: the key is then absent, as in Kong's own report with the
    ``off`` strategy. ``consumers_count`` is there for fleets on 3.1 and
    later (7bda2fe7db), absent (``None``) before.
    """

    counters: list[Counter] | None = None
    consumers_count: int | None = pydantic.Field(default=None, ge=0)
    db_version: str
    kong_version: str
    license_key: str  # the license payload's, as is; Kong's UNLICENSED when none
    rbac_users: int = pydantic.Field(ge=0)
    services_count: int = pydantic.Field(ge=0)
    system_info: SystemInfo
    workspaces_count: int = pydantic.Field(ge=0)

    @pydantic.model_serializer(mode="wrap")
    def _as_kong_writes_it(
        self, handler: pydantic.SerializerFunctionWrapHandler
    ) -> dict[str, object]:
        body = _without(handler(self), "counters", "consumers_count")
        if "counters" in body:
            body["counters"] = _empty_as_object(body["counters"])
        return body

    @pydantic.field_validator("counters", mode="before")
    @classmethod
    def _read_empty_object(cls, counters: object) -> object:
        # Read back from report.json: Kong's {} is an empty list of buckets.
        return [] if counters == {} else counters


class Counters35(_Strict):
    """Kong 3.5's ``counters``: the buckets and their sum (UNKNOWN included, as Kong adds it)."""

    total_requests: int = pydantic.Field(ge=0)
    buckets: list[Counter]

    @pydantic.field_serializer("buckets", mode="wrap")
    def _empty_buckets(
        self, buckets: list[Counter], handler: pydantic.SerializerFunctionWrapHandler
    ) -> object:
        return _empty_as_object(handler(buckets))


class DeploymentInfo(_Strict):
    """Kong 3.5's ``deployment_info``. Kong sets ``connected_dp_count`` only for
    ``hybrid`` (a Lua nil elsewhere, so the key is absent): so does this model."""

    type: str  # "traditional", "hybrid" or "dbless"
    connected_dp_count: int | None = pydantic.Field(default=None, ge=0)

    @pydantic.model_serializer(mode="wrap")
    def _without_absent_count(
        self, handler: pydantic.SerializerFunctionWrapHandler
    ) -> dict[str, object]:
        body: dict[str, object] = handler(self)
        if body.get("connected_dp_count") is None:
            body.pop("connected_dp_count", None)
        return body


class LicenseInfo(_Strict):
    license_key: str  # the license payload's, as is; Kong's UNLICENSED when none
    license_expiration_date: str | None  # as the license gives it (YYYY-MM-DD)


class PluginTiers(_Strict):
    """Plugin instances per name, split as Kong splits them: bundled with Kong OSS
    (``free``), bundled with Kong Enterprise only (``enterprise``), or neither (``custom``)."""

    free: dict[str, int]
    enterprise: dict[str, int]
    custom: dict[str, int]


class PluginsCount(_Strict):
    tiers: PluginTiers
    unique_route_lambdas: int = pydantic.Field(ge=0)
    unique_route_kafkas: int = pydantic.Field(ge=0)


class KongReport35(_Strict):
    """``report.json`` in the shape of Kong Enterprise 3.5 and later ``/license/report``.

    ``checksum`` is the SHA-1 (hex) of the report's canonical serialisation
    without the checksum itself (see ``report.formats``).
    """

    checksum: str
    consumers_count: int = pydantic.Field(ge=0)
    counters: Counters35 | None  # None: no node keeps counters; the key is absent
    db_version: str
    deployment_info: DeploymentInfo
    kong_version: str
    license: LicenseInfo
    plugins_count: PluginsCount
    rbac_users: int = pydantic.Field(ge=0)
    routes_count: int = pydantic.Field(ge=0)
    services_count: int = pydantic.Field(ge=0)
    system_info: SystemInfo
    timestamp: int = pydantic.Field(ge=0)  # seconds since the epoch, as ngx.time()
    workspaces_count: int = pydantic.Field(ge=0)

    @pydantic.model_serializer(mode="wrap")
    def _as_kong_writes_it(
        self, handler: pydantic.SerializerFunctionWrapHandler
    ) -> dict[str, object]:
        return _without(handler(self), "counters")


class Failure(_Strict):
    """A gateway node that was asked (or should have been) and gave nothing."""

    pod: str
    reason: errors.Reason  # one of the pod reasons (docs/reasons.md)
    message: str


class NodeEntry(_Strict):
    """One line of ``nodes.json``: what one gateway pod said, or why it did not."""

    pod: str  # a keyed hash of the pod's name when names are hashed (the default)
    reachable: bool
    node_id: str | None = None
    hostname: str | None = None  # the node's own hostname (keyed hash by default)
    host: str | None = None  # the machine (Kubernetes Node) it runs on (keyed hash by default)
    version: str | None = None
    edition: str | None = None
    database: str | None = None
    cores: int | None = None
    uname: str | None = None
    total_requests: int | None = None
    configuration_hash: str | None = None
    #: "kept": the node's /license/report has counters; "none": it keeps none (why in
    #: ``counters_note``). ``None`` for a node not reached.
    counters: str | None = None
    counters_note: str | None = None
    error: str | None = None
    #: Metered fleets: the pod's metered requests per bucket in the report's window (the
    #: ledger's, docs/metering.md); left out of nodes.json when the fleet is not metered.
    metered: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as nodes.json writes it: ``metered`` only where the fleet is metered,
        so other reports stay as they were before metering existed."""
        return self.model_dump(mode="json", exclude={"metered"} if self.metered is None else None)


#: nodes.json ``counters`` of a metered pod that no longer runs (its months are the ledger's).
METERED_GONE = "metered"


class MeteringInfo(_Strict):
    """``metering.json``: how a metered fleet's figures were obtained (docs/metering.md)."""

    #: Where report.json's counters come from: "ledger" (metered), or "kong" (Kong keeps
    #: counts; the metered figures are a cross-check).
    counters: str
    metered_since: datetime.datetime | None
    #: Counters read: "prometheus" (proxied requests, exact) and/or "status" (an upper bound).
    sources: list[str]
    interval_seconds: int
    pods_metered: int
    #: Some figures came from nginx's total (status): they are an upper bound.
    upper_bound: bool
    #: The metered requests per bucket in the report's window, every pod included.
    months: dict[str, int]
    #: The label value of the ledger ConfigMaps: licensereport.io/ledger=<ledger>.
    ledger: str
    method: str


class Outcome(enum.StrEnum):
    COMPLETE = "Complete"  # every node answered
    DEGRADED = "Degraded"  # some nodes did not; each is a named failure


class Collection(_Strict):
    """Everything one collection produced; packaging turns it into files."""

    report: KongReport
    nodes: list[NodeEntry]
    failures: list[Failure]
    notes: list[str]
    outcome: Outcome
    mode: str  # "db" or "dbless"
    edition: str  # "enterprise" or "community"
    routes_count: int | None
    consumers_count: int | None
    generated_at: datetime.datetime
    # What Kong 3.5's report adds; defaults for a collection read back from a
    # 2.7-shaped report.json (the sandbox does that).
    plugins: PluginUsage | None = None
    deployment: DeploymentInfo = DeploymentInfo(type="traditional")
    license_expiration_date: str | None = None
    #: report.json's shape ("kong-2.7" or "kong-3.5"), ``auto`` already resolved.
    format: str = "kong-2.7"
    #: Metered fleets: what metering.json says.
    metering: MeteringInfo | None = None

    @property
    def gateway_nodes(self) -> list[NodeEntry]:
        """The entries of the fleet's gateway pods now: metered pods gone before this run
        (`METERED_GONE`) are in nodes.json for their months, not among the pods."""
        return [node for node in self.nodes if node.counters != METERED_GONE]


# --- inputs, as the sources layer hands them over -----------------------------------


class Target(_Strict):
    """A gateway node to ask, with what is known of the machine it runs on."""

    name: str = pydantic.Field(min_length=1)
    url: str = pydantic.Field(min_length=1)
    # Identity of the machine (a Kubernetes Node name, say): nodes on the same
    # machine share its cores. ``None``: the node's own hostname is used.
    host: str | None = None
    host_cores: int | None = pydantic.Field(default=None, ge=1)
    host_uname: str | None = None

    @pydantic.field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url


class DataPlanePod(_Strict):
    """A hybrid data plane pod (``KONG_ROLE=data_plane``): it serves no Admin API, so it is
    not asked and not a failure. Its counts reach license_data only through telemetry to
    its control plane; ``telemetry`` is False when its endpoint is Kong's ``NONE``."""

    pod: str
    telemetry: bool = True


class MonthUsage(_Strict):
    """Requests of one ``license_data`` (year, month), summed over nodes; a year or month
    of 0 is UNKNOWN. Months are as the rows hold them (Kong checks no range)."""

    year: int = pydantic.Field(ge=0)
    month: int = pydantic.Field(ge=0)
    requests: int = pydantic.Field(ge=0)


class PluginUsage(_Strict):
    """Plugin instances in the whole configuration (every workspace), as Kong 3.5 counts them."""

    by_name: dict[str, int] = {}
    # aws-lambda instances on a route without a service (and no service, consumer
    # or consumer group of their own), counted once per distinct function_name.
    unique_route_lambdas: int = pydantic.Field(default=0, ge=0)
    # Distinct host:port brokers of kafka-upstream instances scoped the same way.
    unique_route_kafkas: int = pydantic.Field(default=0, ge=0)


class EntityCounts(_Strict):
    services: int = pydantic.Field(ge=0)
    routes: int = pydantic.Field(ge=0)
    consumers: int = pydantic.Field(ge=0)
    workspaces: int = pydantic.Field(ge=0)
    rbac_users: int = pydantic.Field(ge=0)
    plugins: PluginUsage = PluginUsage()
    # Hybrid mode: data planes the control plane knows (``clustering_data_planes``,
    # expired rows left out); ``None``: not counted (not asked, or no control plane).
    data_planes: int | None = pydantic.Field(default=None, ge=0)


class EntityCounters(_Strict):
    """Sums of ``workspace_entity_counters`` per ``entity_type``, all workspaces: how Kong
    2.7-3.8 count (the consumers counter only ever counted proxy consumers, type 0).
    A type with no row is 0."""

    services: int
    routes: int
    consumers: int
    rbac_users: int


class DatastoreFigures(_Strict):
    """What the PostgreSQL datastore says, counted by the database itself.

    ``counts`` are rows (``COUNT(*)``, consumers of type 0 only, as Kong 3.9+
    counts); ``counters`` the ``workspace_entity_counters`` sums Kong 2.7-3.8
    report (``None`` without that table: Kong OSS). Aggregation picks by the
    fleet's version.
    """

    db_version: str
    counts: EntityCounts
    counters: EntityCounters | None = None
    usage: list[MonthUsage]
    missing_tables: list[str] = []


class LicenseFacts(_Strict):
    """The parts of a Kong license the report uses. ``license_key`` goes into report.json
    as is (Kong matches the report to the customer by it); it is kept out of ``repr``."""

    license_key: str = pydantic.Field(repr=False)
    expiration_date: datetime.date | None
    customer: str | None = pydantic.Field(default=None, repr=False)
