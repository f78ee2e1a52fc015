"""``licensereport.io/v1alpha1`` ``LicenseReportRequest``: spec and status.

Fields are snake_case in Python and camelCase on the wire (Kubernetes
convention); constraints here become the CRD's OpenAPI validation, so the
API server refuses bad objects before the operator sees them, and the
operator gives the same verdict (naming the field) when it parses them.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pydantic
from pydantic import alias_generators

from license_report.api import defaults, schedules

GROUP = "licensereport.io"
VERSION = "v1alpha1"
KIND = "LicenseReportRequest"
PLURAL = "licensereportrequests"
SINGULAR = "licensereportrequest"
SHORT_NAMES = ("lrr",)
CATEGORIES = ("kong", "licensereport")
RERUN_ANNOTATION = f"{GROUP}/rerun"

# A DNS-1123 subdomain (Secret, ConfigMap names) and label-style names.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"

Port = Annotated[int, pydantic.Field(ge=1, le=65535)]
ObjectName = Annotated[str, pydantic.Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        alias_generator=alias_generators.to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # JSON types as the API server checks them: true is not a port, "12" not a month.
        strict=True,
    )


# --- spec ---------------------------------------------------------------------------


class SecretKeyRef(_Model):
    """A key of a Secret in the request's namespace."""

    name: ObjectName
    key: str = pydantic.Field(min_length=1, max_length=253, pattern=DATA_KEY_PATTERN)


class LicenseSecretRef(_Model):
    """The Secret holding the Kong license; the Kong chart keeps it under key ``license``."""

    name: ObjectName
    key: str = pydantic.Field(
        default="license", min_length=1, max_length=253, pattern=DATA_KEY_PATTERN
    )


class LabelSelectorRequirement(_Model):
    key: str = pydantic.Field(min_length=1, max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None

    @pydantic.model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Model):
    """A standard Kubernetes label selector, sent to the API server as is."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.matchLabels) || has(self.matchExpressions)",
                    "message": "give matchLabels or matchExpressions",
                }
            ]
        }
    )

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None

    @pydantic.model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        if not self.match_labels and not self.match_expressions:
            raise ValueError(
                "an empty selector would match every pod; give matchLabels or matchExpressions"
            )
        return self


class AdminApiTLS(_Model):
    ca_secret_ref: SecretKeyRef | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = pydantic.Field(default=None, max_length=253)


class AdminApi(_Model):
    """How to reach each gateway pod's Admin API."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.port) && has(self.portName))",
                    "message": "give port or portName, not both",
                }
            ]
        }
    )

    port: Port | None = None  # defaults.ADMIN_API_PORT when neither port nor portName is given
    port_name: str | None = pydantic.Field(
        default=None, min_length=1, max_length=15, pattern=DNS_LABEL
    )
    scheme: Literal["http", "https"] = "http"
    token_secret_ref: SecretKeyRef | None = None
    tls: AdminApiTLS | None = None
    timeout_seconds: float = pydantic.Field(
        default=defaults.ADMIN_API_TIMEOUT_SECONDS, gt=0, le=300
    )
    allow_token_over_http: bool = False

    @pydantic.model_validator(mode="after")
    def _one_port(self) -> AdminApi:
        if self.port is not None and self.port_name is not None:
            raise ValueError("give port or portName, not both")
        return self


class Gateway(_Model):
    selector: LabelSelector
    namespace: str | None = pydantic.Field(
        default=None, min_length=1, max_length=63, pattern=DNS_LABEL
    )
    admin_api: AdminApi = AdminApi()
    max_concurrency: int = pydantic.Field(default=defaults.MAX_CONCURRENCY, ge=1, le=1024)


class Postgres(_Model):
    host: str = pydantic.Field(min_length=1, max_length=253)
    port: Port = defaults.POSTGRES_PORT
    database: str = pydantic.Field(default=defaults.POSTGRES_DATABASE, min_length=1, max_length=63)
    user: str = pydantic.Field(default=defaults.POSTGRES_USER, min_length=1, max_length=63)
    password_secret_ref: SecretKeyRef | None = None
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = (
        defaults.POSTGRES_SSL_MODE
    )


class Datastore(_Model):
    postgres: Postgres


class License(_Model):
    secret_ref: LicenseSecretRef


class ReportOptions(_Model):
    """What report.json holds: its shape (Kong's 2.7-3.4 or 3.5+) and its window."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.format) || self.format != 'kong-3.5' "
                    "|| !has(self.months) || self.months == 12",
                    "message": "format kong-3.5 reports 12 months, as Kong 3.5 does",
                }
            ]
        }
    )

    months: int = pydantic.Field(default=defaults.REPORT_MONTHS, ge=1, le=60)
    format: Literal["kong-2.7", "kong-3.5"] = defaults.REPORT_FORMAT

    @pydantic.model_validator(mode="after")
    def _kong_3_5_window(self) -> ReportOptions:
        if self.format == "kong-3.5" and self.months != 12:
            raise ValueError("format kong-3.5 reports 12 months, as Kong 3.5 does")
        return self


class Output(_Model):
    config_map_name: ObjectName | None = None


class Signing(_Model):
    """An Ed25519 private key (PEM, PKCS#8) in a Secret: the operator signs report.json
    with it and writes the signature and the public key beside the report."""

    secret_ref: SecretKeyRef


class Spec(_Model):
    gateway: Gateway
    datastore: Datastore | None = None  # absent: DB-less
    license: License | None = None
    report: ReportOptions = ReportOptions()
    signing: Signing | None = None  # absent: report.json is not signed
    output: Output = Output()
    # Recurring reports: a cron expression (5 fields, or @monthly, @quarterly, ...),
    # evaluated in time_zone (IANA name; UTC when absent). Absent: one report per
    # generation, as before.
    schedule: str | None = pydantic.Field(default=None, min_length=1, max_length=128)
    time_zone: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    # Reports of a schedule kept as ConfigMaps of their own (24: two years of monthly).
    history_limit: int = pydantic.Field(default=defaults.HISTORY_LIMIT, ge=1, le=1000)
    suspend: bool = False

    @pydantic.field_validator("schedule")
    @classmethod
    def _cron(cls, expression: str | None) -> str | None:
        if expression is not None:
            schedules.check_expression(expression)
        return expression

    @pydantic.field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None:
            schedules.zone(name)
        return name


# --- status -------------------------------------------------------------------------


class _Status(_Model):
    # Status is written by us but read back from the API server: tolerate
    # fields a later version added.
    # Strictness guards user input (the spec); the status is our own output,
    # read back with its enums as strings.
    model_config = pydantic.ConfigDict(extra="ignore", strict=False)


class Phase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class ConditionType(enum.StrEnum):
    COMPLETE = "Complete"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class Condition(_Status):
    """metav1.Condition."""

    type: str = pydantic.Field(max_length=316)
    status: Literal["True", "False", "Unknown"]
    reason: str = pydantic.Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    message: str = pydantic.Field(default="", max_length=32768)
    last_transition_time: str
    observed_generation: int | None = pydantic.Field(default=None, ge=0)


class Summary(_Status):
    request_count: int = pydantic.Field(ge=0)
    services_count: int = pydantic.Field(ge=0)
    workspaces_count: int = pydantic.Field(ge=0)
    rbac_users: int = pydantic.Field(ge=0)
    gateway_pods: int = pydantic.Field(ge=0)
    pods_reached: int = pydantic.Field(ge=0)
    kong_version: str
    db_version: str


class PodFailure(_Status):
    pod: str
    reason: str
    message: str = pydantic.Field(max_length=1024)


class HistoryEntry(_Status):
    config_map: str
    schedule_time: str
    report_sha256: str


class Status(_Status):
    phase: Phase | None = None
    observed_generation: int | None = None
    # Which rerun annotation value the last run answered; with the generation
    # it identifies a run, so a restarted operator never runs it twice.
    observed_rerun: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    report_config_map: str | None = None
    report_sha256: str | None = None
    summary: Summary | None = None
    failures: list[PodFailure] | None = None
    # Findings worth a look that do not change the figures: version skew,
    # configuration drift, Nodes not readable, absent OSS tables.
    notes: list[str] | None = None
    conditions: list[Condition] | None = None
    # Scheduled requests: the schedule time of the last run, the next one, and
    # the reports kept (newest first), at most spec.historyLimit.
    last_schedule_time: str | None = None
    next_schedule_time: str | None = None
    history: list[HistoryEntry] | None = None
