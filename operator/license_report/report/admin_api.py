"""Models of the Kong Admin API bodies the collector reads.

They validate what a node said before anything is counted: a body of the
wrong shape becomes a named failure of that node, never a silent zero. Extra
fields are ignored, since every Kong release adds some.
"""

from __future__ import annotations

import pydantic

from license_report.report import window


class _Lenient(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class Configuration(_Lenient):
    database: str
    role: str = "traditional"


class NodeInfo(_Lenient):
    """``GET /``."""

    version: str
    edition: str = "community"
    hostname: str
    node_id: str
    configuration: Configuration

    @property
    def enterprise(self) -> bool:
        return self.edition == "enterprise"


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
    """``GET /license/report`` (Enterprise; Kong OSS answers 404)."""

    counters: list[ReportCounter]
    db_version: str | None = None
    kong_version: str | None = None
    license_key: str | None = pydantic.Field(default=None, repr=False)
    rbac_users: int | None = pydantic.Field(default=None, ge=0)
    services_count: int | None = pydantic.Field(default=None, ge=0)
    workspaces_count: int | None = pydantic.Field(default=None, ge=0)
    system_info: ReportSystemInfo | None = None


class Page(_Lenient):
    """One page of a paged list (``/services``, ``/routes``, ...)."""

    data: list[object]
    next: str | None = None
    offset: str | None = None
