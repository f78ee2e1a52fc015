"""Models of the Kong Admin API bodies the collector reads.

They validate what a node said before anything is counted: a body of the
wrong shape becomes a named failure of that node, never a silent zero. Extra
fields are ignored, since every Kong release adds some.
"""

from __future__ import annotations

import pydantic

from license_report.report import versions, window


class _Lenient(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class Configuration(_Lenient):
    database: str
    role: str = "traditional"
    #: Where a hybrid node sends its counts; Kong's explicit off is ``"NONE"`` (3.6+:
    #: the ``off`` strategy). Kong's default is ``127.0.0.1:8006``.
    cluster_telemetry_endpoint: str | None = None


class NodeInfo(_Lenient):
    """``GET /``.

    ``edition`` exists only from Kong 3.6 (c014727394; EE e8c3fbb9f1): before,
    its absence says nothing. Kong Enterprise adds ``license`` (the payload
    without its key) whenever a license is loaded, in every version
    (e95e9e897c:kong/enterprise_edition/init.lua:234-262).
    """

    version: str
    edition: str | None = None
    hostname: str
    node_id: str
    configuration: Configuration
    license: dict[str, object] | None = pydantic.Field(default=None, repr=False)

    @property
    def says_enterprise(self) -> bool:
        """What ``GET /`` alone tells: edition, a license object, or 2.x's version suffix."""
        return (
            self.edition == "enterprise"
            or self.license is not None
            or versions.enterprise_suffix(self.version)
        )


class ServerStatus(_Lenient):
    total_requests: int = pydantic.Field(ge=0)


class DatabaseStatus(_Lenient):
    reachable: bool


class NodeStatus(_Lenient):
    """``GET /status``: ``database`` in DB mode, ``configuration_hash`` in DB-less."""

    server: ServerStatus
    database: DatabaseStatus | None = None
    configuration_hash: str | None = None


class ReportCounter(_Lenient):
    bucket: str
    request_count: int = pydantic.Field(ge=0)

    @pydantic.field_validator("bucket")
    @classmethod
    def _known_bucket(cls, bucket: str) -> str:
        # A garbled bucket would otherwise be counted in no month, or the wrong one.
        window.parse_bucket(bucket)
        return bucket


class ReportSystemInfo(_Lenient):
    cores: int | None = pydantic.Field(default=None, ge=1)
    hostname: str | None = None
    uname: str | None = None


class NodeLicenseReport(_Lenient):
    """``GET /license/report`` (Enterprise; Kong OSS answers 404), in either shape.

    Kong 3.5 and later nest the buckets (``counters: {total_requests,
    buckets}``) and the license (``license: {license_key,
    license_expiration_date}``); both shapes read into the same fields.
    ``counters`` is ``None`` when the key is absent: the node's counter
    strategy is ``off`` (DB-less, or hybrid without telemetry), it keeps no
    counts. Kong 2.8-3.8 leave out an entity count with no counter row, so
    every count may be absent too.
    """

    counters: list[ReportCounter] | None = None
    # Every Kong version writes these two: a body without them is not a license report.
    db_version: str
    kong_version: str
    license_key: str | None = pydantic.Field(default=None, repr=False)
    # Only Kong 3.5 and later say it.
    license_expiration_date: str | None = None
    rbac_users: int | None = pydantic.Field(default=None, ge=0)
    services_count: int | None = pydantic.Field(default=None, ge=0)
    workspaces_count: int | None = pydantic.Field(default=None, ge=0)
    routes_count: int | None = pydantic.Field(default=None, ge=0)  # 3.5+
    consumers_count: int | None = pydantic.Field(default=None, ge=0)  # 3.1+
    system_info: ReportSystemInfo | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _either_shape(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        counters = data.get("counters")
        if isinstance(counters, dict) and "buckets" in counters:
            counters = data["counters"] = counters["buckets"]
        if counters == {}:
            # Kong's JSON encoder writes an empty Lua table as {}: no buckets at all.
            data["counters"] = []
        nested = data.get("license")
        if isinstance(nested, dict):
            data.setdefault("license_key", nested.get("license_key"))
            data.setdefault("license_expiration_date", nested.get("license_expiration_date"))
        return data


class Reference(_Lenient):
    """A foreign key as Kong writes it: ``{"id": ...}``."""

    id: str


class Route(_Lenient):
    """An item of ``GET /routes``: only what Kong 3.5's plugin counts look at."""

    id: str
    service: Reference | None = None


class Plugin(_Lenient):
    """An item of ``GET /plugins``: its name, scope and configuration."""

    name: str
    route: Reference | None = None
    service: Reference | None = None
    consumer: Reference | None = None
    consumer_group: Reference | None = None  # Enterprise 3.4+
    config: dict[str, object] | None = None


class Page(_Lenient):
    """One page of a paged list (``/services``, ``/routes``, ...)."""

    data: list[object]
    next: str | None = None
    offset: str | None = None
