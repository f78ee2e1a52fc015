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

import pydantic

from license_report.api import errors

# --- the report, exactly as Kong shapes it -----------------------------------------


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Counter(_Strict):
    bucket: str
    request_count: int = pydantic.Field(ge=0)


class SystemInfo(_Strict):
    # ``None`` (JSON null) means "not known": the hosts' facts could not be read
    # and the report says so rather than inventing a figure.
    cores: int | None
    hostname: str
    uname: str | None


class KongReport(_Strict):
    """``report.json``: the shape of Kong Enterprise 2.7-3.4 ``/license/report``."""

    counters: list[Counter]
    db_version: str
    kong_version: str
    license_key: str
    rbac_users: int = pydantic.Field(ge=0)
    services_count: int = pydantic.Field(ge=0)
    system_info: SystemInfo
    workspaces_count: int = pydantic.Field(ge=0)


class Counters35(_Strict):
    """Kong 3.5's ``counters``: the buckets and their sum (UNKNOWN included, as Kong adds it)."""

    total_requests: int = pydantic.Field(ge=0)
    buckets: list[Counter]


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
    license_key: str  # keyed hash, or UNLICENSED
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
    counters: Counters35
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


class Failure(_Strict):
    """A gateway node that was asked (or should have been) and gave nothing."""

    pod: str
    reason: errors.Reason  # one of the pod reasons (docs/reasons.md)
    message: str


class NodeEntry(_Strict):
    """One line of ``nodes.json``: what one gateway pod said, or why it did not."""

    pod: str
    reachable: bool
    node_id: str | None = None
    hostname: str | None = None  # keyed hash of the node's own hostname
    host: str | None = None  # keyed hash of the machine (Kubernetes Node) it runs on
    version: str | None = None
    edition: str | None = None
    database: str | None = None
    cores: int | None = None
    uname: str | None = None
    total_requests: int | None = None
    configuration_hash: str | None = None
    error: str | None = None


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


class MonthUsage(_Strict):
    """Requests of one ``license_data`` month, summed over nodes; (0, 0) is UNKNOWN."""

    year: int = pydantic.Field(ge=0)
    month: int = pydantic.Field(ge=0, le=12)
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


class DatastoreFigures(_Strict):
    """What the PostgreSQL datastore says, counted by the database itself."""

    db_version: str
    counts: EntityCounts
    usage: list[MonthUsage]
    missing_tables: list[str] = []


class LicenseFacts(_Strict):
    """The parts of a Kong license the report uses. ``license_key`` is raw here:
    it is hashed before it reaches any output, and kept out of ``repr``."""

    license_key: str = pydantic.Field(repr=False)
    expiration_date: datetime.date | None
    customer: str | None = pydantic.Field(default=None, repr=False)
