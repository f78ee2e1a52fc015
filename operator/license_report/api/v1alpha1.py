"""``licensereport.io/v1alpha1`` ``LicenseReportRequest``: spec and status.

Fields are snake_case in Python and camelCase on the wire (Kubernetes
convention); constraints here become the CRD's OpenAPI validation, so the
API server refuses bad objects before the operator sees them, and the
operator gives the same verdict (naming the field) when it parses them.

The docstring under each field is its description in the CRD (pydantic's
``use_attribute_docstrings``), as kubebuilder turns doc comments into
descriptions: it is what ``kubectl explain`` shows, so it is written for the
platform engineer filling in a request (what the field does, its default, an
example), and a test fails when a field has none.
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
        # The docstring under a field becomes its JSON-schema (and so CRD) description.
        use_attribute_docstrings=True,
    )


# --- spec ---------------------------------------------------------------------------


class SecretKeyRef(_Model):
    """A key of a Secret in the request's namespace."""

    name: ObjectName
    """Name of the Secret, in the LicenseReportRequest's own namespace. Example: kong-admin."""
    key: str = pydantic.Field(min_length=1, max_length=253, pattern=DATA_KEY_PATTERN)
    """Key in the Secret's data whose value is used. Example: token."""


class LicenseSecretRef(_Model):
    """The Secret holding the Kong license; the Kong chart keeps it under key ``license``."""

    name: ObjectName
    """Name of the Secret holding the Kong license JSON (what KONG_LICENSE_DATA holds), in the
    LicenseReportRequest's namespace. Example: kong-enterprise-license."""
    key: str = pydantic.Field(
        default="license", min_length=1, max_length=253, pattern=DATA_KEY_PATTERN
    )
    """Key of the license in the Secret's data. Default: license (where the Kong chart keeps
    it)."""


class LabelSelectorRequirement(_Model):
    """One set-based requirement of a label selector, as in any Kubernetes selector."""

    key: str = pydantic.Field(min_length=1, max_length=317)
    """Label key the requirement is about. Example: app.kubernetes.io/name."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the label is matched: In or NotIn (one of values, or none of them), Exists or
    DoesNotExist (the key alone)."""
    values: list[str] | None = None
    """Label values for In and NotIn (at least one); must be absent for Exists and
    DoesNotExist. Example: [kong, kong-gateway]."""

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
    """Labels a gateway pod must all carry, with exactly these values. Example:
    {app.kubernetes.io/name: kong}."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Set-based requirements a gateway pod must all meet, on top of matchLabels."""

    @pydantic.model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        if not self.match_labels and not self.match_expressions:
            raise ValueError(
                "an empty selector would match every pod; give matchLabels or matchExpressions"
            )
        return self


class TLSSecretRef(_Model):
    """A kubernetes.io/tls Secret in the request's namespace: a certificate and its key."""

    name: ObjectName
    """Name of the Secret, in the LicenseReportRequest's own namespace (like every Secret the
    spec names), with keys tls.crt (the PEM certificate, chain after it) and tls.key (its
    unencrypted PEM key). Example: dataplane-example-admin-client."""


class AdminApiTLS(_Model):
    """How TLS to the Admin API is checked, and which certificate the operator presents, when
    a pod is asked over https. Pods reached directly are checked against caSecretRef (or the
    system's CAs) for serverName (or the pod IP), each pod on its own; pods reached through
    port-forward are not checked by name (they answer on the pod's loopback, which no
    certificate names, and the channel is the API server's authenticated TLS connection to
    the kubelet), and their certificate is accepted unchecked unless caSecretRef is given."""

    ca_secret_ref: SecretKeyRef | None = None
    """Secret key holding the PEM CA bundle that signed the Admin API's certificate (a CA
    that does not parse fails the run: InvalidCA). Default: the system's CAs for pods reached
    directly; for pods reached through port-forward, their certificate unchecked (Kong's own
    is self-signed per pod)."""
    insecure_skip_verify: bool = False
    """Accept any certificate, unchecked, for any name, from pods reached directly too: anyone
    on the path could read the token and the figures. For test clusters only. Default: false."""
    server_name: str | None = pydantic.Field(default=None, max_length=253)
    """Name the certificate of a pod reached directly is checked against, and sent as SNI: the
    operator connects to pod IPs, which certificates rarely name. Default: the pod IP.
    Example: kong-admin.kong.svc."""
    client_cert_secret_ref: TLSSecretRef | None = None
    """kubernetes.io/tls Secret whose certificate the operator presents to every pod's Admin
    API, direct or through port-forward: for Admin APIs that require a client certificate
    (Kong Gateway Operator data planes, the Kong chart's admin.tls.client). Read from the
    LicenseReportRequest's namespace, so create the request where the Secret is (the Kong
    Gateway Operator keeps its in the DataPlane's namespace). A Secret or key missing is
    retried (SecretNotFound); a certificate and key that do not load together fail at once
    (InvalidClientCertificate). Default: no client certificate."""


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

    port: Port | None = None
    """Admin API port, the same on every pod. Give port or portName, not both. Default:
    derived from each pod's KONG_ADMIN_LISTEN (its listener on the pod IP, plain before
    TLS); without it, 8001 (Kong's default admin_listen). Example: 8444."""
    port_name: str | None = pydantic.Field(
        default=None, min_length=1, max_length=15, pattern=DNS_LABEL
    )
    """Name of the Admin API's container port, looked up in each pod's spec (a pod without
    such a port is listed in status.failures). Give port or portName, not both. Example:
    admin."""
    scheme: Literal["http", "https"] | None = None
    """http or https. With https the certificate is verified (see tls). Default: derived
    from the KONG_ADMIN_LISTEN listener used (https when it has the ssl flag); without it,
    http."""
    access: Literal["auto", "direct", "portForward"] | None = None
    """How each pod's Admin API is reached. direct: at the pod IP (the listener must be on
    0.0.0.0, [::] or the pod IP). portForward: through the Kubernetes API server's
    pods/portforward (as kubectl port-forward does; the operator needs create on
    pods/portforward in the pods' namespace), to the pod's TLS listener if it has one, else
    its plain one, loopback ones included (the Kong chart's default: 127.0.0.1:8444). Over a
    port-forward the channel is the API server's authenticated TLS connection, so Kong's
    per-pod self-signed certificate is accepted (checked against tls.caSecretRef when given,
    without the name) and the admin token may be sent over a plain listener. auto, in this
    order: a TLS listener on the pod IP with tls.caSecretRef (or tls.insecureSkipVerify) ->
    direct; a listener in KONG_ADMIN_LISTEN -> portForward; otherwise direct (TLS verified,
    or plain http without a token). Default: auto."""
    token_secret_ref: SecretKeyRef | None = None
    """Secret key holding an RBAC token, sent to every pod as the Kong-Admin-Token header. The
    token is only sent over https unless allowTokenOverHttp (otherwise the run fails:
    InsecureAdminToken). Default: derived from the pods' KONG_PASSWORD, or their ingress
    controller's CONTROLLER_KONG_ADMIN_TOKEN (Secrets followed, in the pod's namespace), and
    then sent over https only; without them, no token."""
    tls: AdminApiTLS | None = None
    """Certificate checking for scheme https (ignored with http). Default: verified against
    the system's CAs, for the pod IP."""
    timeout_seconds: float = pydantic.Field(
        default=defaults.ADMIN_API_TIMEOUT_SECONDS, gt=0, le=300
    )
    """Time limit of each Admin API request, the body included, in seconds (above 0, at most
    300); a pod that does not answer in time is listed in status.failures (Timeout).
    Default: 5."""
    allow_token_over_http: bool = False
    """Send tokenSecretRef's token over plain http too (a trusted network, or a mesh that
    encrypts pod traffic). Default: false."""

    @pydantic.model_validator(mode="after")
    def _one_port(self) -> AdminApi:
        if self.port is not None and self.port_name is not None:
            raise ValueError("give port or portName, not both")
        return self


class Gateway(_Model):
    """The Kong Gateway pods to report on, and how to ask them."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.namespace) && has(self.namespaces))",
                    "message": "give namespace or namespaces, not both",
                }
            ]
        }
    )

    selector: LabelSelector
    """Label selector of the gateway pods (matchLabels or matchExpressions: an empty selector
    would match every pod). Every matching gateway pod is asked; one Running but not Ready,
    or not reached, is named in status.failures and makes the report Degraded. Matching pods
    that are not gateways are skipped and counted in status.summary.podsSkipped, with why in
    status.notes, never failures: pods owned by a Job (Kong's migrations), pods without a
    Kong Gateway container (one named proxy, or setting KONG_ADMIN_LISTEN,
    KONG_PROXY_LISTEN, KONG_ROLE or KONG_DATABASE, or running a kong or kong/kong-gateway
    image), completed pods, pods not started yet, and terminating pods no longer Ready (a
    terminating pod still Ready is asked). Example: matchLabels:
    {app.kubernetes.io/name: kong, app.kubernetes.io/component: app}."""
    namespace: str | None = pydantic.Field(
        default=None, min_length=1, max_length=63, pattern=DNS_LABEL
    )
    """Namespace of the gateway pods. Give namespace or namespaces, not both. Secrets are read
    from the LicenseReportRequest's namespace whatever this says. Default: the
    LicenseReportRequest's namespace. Example: kong."""
    namespaces: (
        list[Annotated[str, pydantic.Field(min_length=1, max_length=63, pattern=DNS_LABEL)]] | None
    ) = pydantic.Field(
        default=None,
        min_length=1,
        max_length=64,
        # A set: the API server refuses a namespace listed twice.
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    """Namespaces of the gateway pods, for a fleet split over several (hybrid control planes
    in one, data planes in another): the selector is applied in each, and pods are named
    <namespace>/<pod> in the status and nodes.json when there are several. Give namespace
    or namespaces, not both. Default: namespace. Example: [kong, kong-dp]."""
    admin_api: AdminApi = AdminApi()
    """How to reach each pod's Admin API: port, scheme, token, TLS, time limit. Default:
    http on port 8001, no token."""
    max_concurrency: int = pydantic.Field(default=defaults.MAX_CONCURRENCY, ge=1, le=1024)
    """How many gateway pods are asked at once (1-1024). Default: 64."""

    @pydantic.model_validator(mode="after")
    def _one_namespace_field(self) -> Gateway:
        if self.namespace is not None and self.namespaces is not None:
            raise ValueError("give namespace or namespaces, not both")
        return self


class Postgres(_Model):
    """The PostgreSQL database of a DB-mode Kong (what KONG_PG_* says), read, never written.

    Every field is derived from the gateway pods' env when they set KONG_DATABASE=postgres
    (KONG_PG_HOST, KONG_PG_PORT, KONG_PG_DATABASE, KONG_PG_USER, KONG_PG_PASSWORD,
    KONG_PG_SSL, KONG_PG_SSL_VERIFY; Kong's defaults where the pods leave one unset); a
    field given here overrides what is derived (for settings in envFrom or kong.conf, which
    the pod spec does not show)."""

    host: str | None = pydantic.Field(default=None, min_length=1, max_length=253)
    """Host name or IP address of the PostgreSQL server (KONG_PG_HOST). Default: derived
    (a short Service name is qualified with the pod's namespace: <name>.<namespace>.svc);
    required when the pods do not say. Example: kong-postgresql.kong.svc."""
    port: Port | None = None
    """PostgreSQL port (KONG_PG_PORT). Default: derived, else 5432."""
    database: str | None = pydantic.Field(default=None, min_length=1, max_length=63)
    """Kong's database (KONG_PG_DATABASE). Default: derived, else kong."""
    user: str | None = pydantic.Field(default=None, min_length=1, max_length=63)
    """User to connect as (KONG_PG_USER); reading is all it needs. Default: derived, else
    kong."""
    password_secret_ref: SecretKeyRef | None = None
    """Secret key holding the user's password (KONG_PG_PASSWORD). Default: derived (the
    pods' KONG_PG_PASSWORD, its Secret followed); else no password."""
    ssl_mode: (
        Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None
    ) = None
    """libpq sslmode of the connection: disable, allow, prefer, require, verify-ca or
    verify-full. Default: derived from KONG_PG_SSL and KONG_PG_SSL_VERIFY (off: disable;
    on: require; both on: verify-full); when the pods do not say, prefer."""


class Datastore(_Model):
    """Kong's own database, where a DB-mode cluster keeps its license counters."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.disabled) && self.disabled && has(self.postgres))",
                    "message": "give postgres or disabled, not both",
                }
            ]
        }
    )

    postgres: Postgres | None = None
    """The PostgreSQL database the gateways use; fields given here override what is derived
    from the pods. Default: derived from the pods."""
    disabled: bool | None = None
    """true: read no datastore, even when the pods use one; the figures then come from the
    gateways' Admin APIs. Default: false."""

    @pydantic.model_validator(mode="after")
    def _opt_out_alone(self) -> Datastore:
        if self.disabled and self.postgres is not None:
            raise ValueError("give postgres or disabled, not both")
        return self


class License(_Model):
    """The Kong Enterprise license the gateways run with."""

    secret_ref: LicenseSecretRef
    """Secret key holding the license JSON. A license that does not parse fails the run
    (InvalidLicense)."""


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

    months: int | None = pydantic.Field(default=None, ge=1, le=60)
    """Months of counters in a kong-2.7 report.json, the current one included (1-60).
    Format kong-3.5 reports 12, as Kong 3.5 does: any other value is refused with
    format kong-3.5, and ignored (a status note says so) when format auto resolves to
    kong-3.5. Default: 24, as Kong 2.7 to 3.4 report."""
    format: Literal["auto", "kong-2.7", "kong-3.5"] | None = None
    """Shape of report.json: auto (the shape the fleet's own Kong writes: kong-3.5 for
    fleets on Kong 3.5 and later, kong-2.7 below), kong-2.7 (what Kong 2.7 to 3.4 answer
    on /license/report, 24 months) or kong-3.5 (Kong 3.5 and later, 12 months). Default:
    auto."""
    hash_names: bool = defaults.HASH_NAMES
    """Write pod and host names into nodes.json as keyed hashes (HMAC-SHA256 under the
    installation hash key), for a nodes.json that leaves the cluster with the report. The
    request's status names pods in clear either way; report.json has no names. Default:
    true."""

    @pydantic.model_validator(mode="after")
    def _kong_3_5_window(self) -> ReportOptions:
        if self.format == "kong-3.5" and self.months not in (None, 12):
            raise ValueError("format kong-3.5 reports 12 months, as Kong 3.5 does")
        return self

    @property
    def chosen_format(self) -> str:
        """``format``, or the default in code (``auto``)."""
        return self.format or defaults.REPORT_FORMAT


class Output(_Model):
    """Where the report is written."""

    config_map_name: ObjectName | None = None
    """Name of the ConfigMap the report (report.json, nodes.json, the TAR) is written to, in
    the LicenseReportRequest's namespace, owned by it. A ConfigMap of that name that the
    request does not own is left alone and the run fails (ConfigMapNotOwned). Default:
    <request name>-report."""


class Signing(_Model):
    """An Ed25519 private key (PEM, PKCS#8) in a Secret: the operator signs report.json
    with it and writes the signature and the public key beside the report."""

    secret_ref: SecretKeyRef
    """Secret key holding the Ed25519 private key (PEM, PKCS#8); a key that does not load
    fails the run (InvalidSigningKey)."""


class Metering(_Model):
    """Metering for fleets that keep no request counts of their own (docs/metering.md): the
    operator samples each gateway pod's request counter on its status listener, keeps the
    deltas in a ledger of ConfigMaps that survives pod churn and its own restarts, and the
    report's counters come from that ledger, with metering.json saying how."""

    enabled: bool | None = None
    """true: meter whatever the fleet keeps (where Kong keeps counts, the report still takes
    Kong's and the status notes compare them with the metered ones); false: never. Default:
    on when the fleet keeps no counts of its own (DB-less pods, data planes without
    KONG_CLUSTER_TELEMETRY_ENDPOINT, Kong OSS), off otherwise."""
    interval_seconds: int = pydantic.Field(
        default=defaults.METERING_INTERVAL_SECONDS, ge=5, le=3600
    )
    """Seconds between two samples of every pod (5-3600). A pod that dies without a
    termination sample loses at most one interval of its traffic. Default: 60."""
    source: Literal["auto", "prometheus", "status"] = defaults.METERING_SOURCE
    """Which counter is read: prometheus (the Prometheus plugin's per-route request counter
    on /metrics: proxied requests only, exact; needs a prometheus plugin instance with
    status_code_metrics on Kong 3.0+), status (nginx's total_requests on /status: every
    request the pod served, less the probes and the operator's own samples: an upper
    bound), or auto (prometheus on each pod that shows the counter, else status). Default:
    auto."""
    status_port: Port | None = None
    """Port of the pods' status listener. Default: derived from KONG_STATUS_LISTEN (the Kong
    chart: 8100), else the container port named status. Set it when KONG_STATUS_LISTEN is in
    envFrom or kong.conf, which the pod spec does not show."""
    status_scheme: Literal["http", "https"] | None = None
    """Scheme of the status listener. Default: derived from KONG_STATUS_LISTEN (ssl: https),
    else http."""
    retention_months: int = pydantic.Field(default=defaults.METERING_RETENTION_MONTHS, ge=1, le=120)
    """Months of ledger kept (1-120); older months are deleted. The ledger belongs to the
    fleet (its namespaces and selector), not to this request: deleting or renaming the
    request deletes nothing. Default: 25 (Kong's 24-month 2.x window and the current month)."""


class Spec(_Model):
    """What to report on and how: the gateway pods, their datastore, the license, the
    report's shape, where it goes, and an optional schedule. Each spec generation gets one
    report; a new value of the licensereport.io/rerun annotation asks for another."""

    gateway: Gateway
    """The Kong Gateway pods to report on (required) and how to reach their Admin API."""
    datastore: Datastore | None = None
    """Kong's PostgreSQL database (DB mode): the counters and entity counts are read from it.
    Default: derived from the gateway pods (KONG_DATABASE=postgres and KONG_PG_*); for
    DB-less pods, none, and the figures come from each pod's Admin API."""
    license: License | None = None
    """The license the gateways run with; report.json carries its license_key as Kong writes
    it (the signature never appears anywhere). Default: derived from the pods'
    KONG_LICENSE_DATA (its Secret followed); else the license key the gateways report, or
    UNLICENSED."""
    report: ReportOptions = ReportOptions()
    """What report.json holds: its shape and its window, and whether nodes.json hashes
    names. Default: format auto, Kong's window for that format, names hashed."""
    signing: Signing | None = None
    """Sign report.json; the signature and the public key go beside it in the ConfigMap.
    Default: none; report.json is not signed."""
    output: Output = Output()
    """Where the report is written. Default: ConfigMap <request name>-report."""
    metering: Metering = Metering()
    """Sampling of the gateway pods' request counters, for fleets that keep no counts of
    their own (DB-less, data planes without telemetry, Kong OSS). Default: on for those
    fleets, every 60 s, source auto."""
    schedule: str | None = pydantic.Field(default=None, min_length=1, max_length=128)
    """Recurring reports: a cron expression (minute hour day-of-month month day-of-week) or
    one of @yearly, @quarterly, @monthly, @weekly, @daily, @hourly, evaluated in timeZone.
    As a CronJob: nothing runs at creation, and times missed while the operator was down
    give one catch-up run. Each run also keeps a history ConfigMap
    <configMap>-<YYYYMMDDHHMM>. Default: none; one report per spec generation. Example:
    '@monthly'."""
    time_zone: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    """IANA time zone the schedule is evaluated in. Default: UTC. Example: Europe/Berlin."""
    history_limit: int = pydantic.Field(default=defaults.HISTORY_LIMIT, ge=1, le=1000)
    """Scheduled requests: how many history ConfigMaps are kept; past it the oldest are
    deleted. Default: 24 (two years of monthly reports)."""
    suspend: bool = False
    """Scheduled requests: run nothing at the scheduled times (a new rerun annotation value
    still runs one now). Ignored without a schedule. Default: false."""

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
    # Written by us: a key the model does not know is refused (a misspelled one
    # would pass the emulator and be dropped silently by a real API server).
    # Read back with read_status(), which drops fields a later version added.
    # Strictness guards user input (the spec); the status is our own output,
    # read back with its enums as strings.
    model_config = pydantic.ConfigDict(extra="forbid", strict=False)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _drop_unknown_when_reading(cls, data: object, info: pydantic.ValidationInfo) -> object:
        if isinstance(data, dict) and (info.context or {}).get(_READING):
            known = {f.alias or n for n, f in cls.model_fields.items()} | set(cls.model_fields)
            return {key: value for key, value in data.items() if key in known}
        return data


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
    """One aspect of the last run, in metav1.Condition's shape."""

    type: str = pydantic.Field(max_length=316)
    """Complete (True: the last run wrote its report), Degraded (True: some pods were not
    reached) or Failed (True: the last run gave up, after retrying what can be transient);
    the list holds one condition per type."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str = pydantic.Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    """Why, as a CamelCase word to alert on. Examples: ReportWritten, PodsUnreachable,
    AllPodsReached, SecretNotFound, NoPodReachable."""
    message: str = pydantic.Field(default="", max_length=32768)
    """What happened, for people: which object or field, and what to do. Default: ""."""
    last_transition_time: str
    """When status last changed (RFC 3339, UTC); a run that keeps the status keeps it."""
    observed_generation: int | None = pydantic.Field(default=None, ge=0)
    """metadata.generation of the spec the condition was set for."""


class Summary(_Status):
    """The last report's headline figures, as report.json has them."""

    request_count: int | None = pydantic.Field(default=None, ge=0)
    """Requests over the report's window (report.json's counters summed). Absent when no
    gateway keeps counters (DB-less, Kong OSS) and no datastore holds them: report.json
    then has no counters either, and a note says why."""
    services_count: int = pydantic.Field(ge=0)
    """Services (report.json's services_count)."""
    workspaces_count: int = pydantic.Field(ge=0)
    """Workspaces (report.json's workspaces_count)."""
    rbac_users: int = pydantic.Field(ge=0)
    """RBAC users (report.json's rbac_users)."""
    gateway_pods: int = pydantic.Field(ge=0)
    """Gateway pods matched by spec.gateway.selector, reached or not."""
    pods_reached: int = pydantic.Field(ge=0)
    """Gateway pods that answered; the others are in status.failures."""
    pods_skipped: int | None = pydantic.Field(default=None, ge=0)
    """Pods the selector matched that are not gateway pods (migration Job pods, pods without
    a Kong container, completed or not yet started pods), not counted in gatewayPods and
    never failures; a note names them and says why. Absent when none was skipped."""
    kong_version: str
    """Kong version in report.json. Example: 3.4.3.12."""
    db_version: str
    """Datastore version in report.json. Example: postgres 15.4."""


class DerivedSettings(_Status):
    """What the last run took from the gateway pods' spec, and from where (never a secret's
    value): why a datastore, a port or a license was chosen."""

    admin_api: str | None = None
    """How the Admin APIs were reached. Example: http <pod IP>:8001 (KONG_ADMIN_LISTEN)."""
    datastore: str | None = None
    """The datastore read. Example: kong-postgresql.kong.svc:5432 database kong user kong
    (KONG_PG_*, password from Secret kong-postgresql key password)."""
    license: str | None = None
    """Where the license came from. Example: Secret kong-enterprise-license key license
    (KONG_LICENSE_DATA)."""
    token: str | None = None
    """Where the admin token came from. Example: Secret kong-admin key password
    (KONG_PASSWORD)."""


class PodFailure(_Status):
    """A gateway pod that gave no figures, and why."""

    pod: str
    """Name of the pod."""
    reason: str
    """Why, as a CamelCase word: Timeout, ConnectionRefused, ConnectionError, TLSError,
    Unauthorized, HTTPError, BadResponse, BodyTooLarge or NotReady."""
    message: str = pydantic.Field(max_length=1024)
    """What happened, at most 1024 characters."""


class HistoryEntry(_Status):
    """One kept report of a scheduled request."""

    config_map: str
    """Name of the history ConfigMap holding the report."""
    schedule_time: str
    """The schedule time the report was made for (RFC 3339, UTC); for a report asked for by
    the rerun annotation, the time it ran."""
    report_sha256: str
    """SHA-256 (hex) of that report's report.json."""


class MeteringStatus(_Status):
    """What the sampler is doing for this request's fleet (docs/metering.md)."""

    active: bool | None = None
    """Whether the fleet is metered now (spec.metering.enabled, or the default's verdict on
    the pods)."""
    why: str | None = None
    """Why it is metered or not: what the pods say (KONG_DATABASE=off, a data plane without
    telemetry, Kong OSS) or the spec."""
    ledger: str | None = None
    """Label value licensereport.io/ledger of the ledger ConfigMaps (in this namespace) that
    hold the fleet's metered history: kubectl get configmaps -l licensereport.io/ledger=..."""
    since: str | None = None
    """When metering of this fleet began (RFC 3339, UTC); what pods served before goes to
    UNKNOWN."""
    last_sample_time: str | None = None
    """When the last sampling round was written to the ledger (RFC 3339, UTC)."""
    pods_sampled: int | None = None
    """Pods read in the last round."""
    sources: list[str] | None = None
    """Counters read in the last round: prometheus (exact), status (an upper bound)."""
    last_error: str | None = None
    """Why the last round, or some pods in it, could not be sampled; absent when all were."""


class Status(_Status):
    """What the operator did with the request: the last run's phase, conditions, summary
    and failures, and a schedule's times and kept reports."""

    phase: Phase | None = None
    """Pending, Running, Succeeded, Degraded (report written, some pods not reached) or
    Failed. For people; automation reads conditions."""
    observed_generation: int | None = None
    """metadata.generation of the spec the last run was for."""
    observed_rerun: str | None = None
    """Value of the licensereport.io/rerun annotation the last run answered; with the
    generation it identifies a run, so a restarted operator never runs it twice."""
    started_at: str | None = None
    """When the last run started (RFC 3339, UTC)."""
    completed_at: str | None = None
    """When the last run ended, report written or failed (RFC 3339, UTC); absent while it
    runs."""
    report_config_map: str | None = None
    """Name of the ConfigMap holding the last report written (report.json, nodes.json, the
    TAR); a failed run leaves it, and reportSha256, as they were."""
    report_sha256: str | None = None
    """SHA-256 (hex) of the last report.json written, to check a copy handed on."""
    summary: Summary | None = None
    """The last report's headline figures."""
    failures: list[PodFailure] | None = None
    """Gateway pods the last run did not reach, each with why (the first 50; nodes.json
    names every one)."""
    derived: DerivedSettings | None = None
    """What the last run derived from the gateway pods' spec, and from where; fields given
    in the spec are not listed."""
    notes: list[str] | None = None
    """Findings worth a look that do not change the figures: version skew, configuration
    drift, Nodes not readable, absent OSS tables."""
    conditions: list[Condition] | None = pydantic.Field(
        default=None,
        # Keyed by type, as metav1.Condition lists are: a server-side apply merges
        # conditions one by one, by type, instead of replacing the whole list.
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Complete, Degraded and Failed, one of each (metav1.Condition): what to alert on."""
    last_schedule_time: str | None = None
    """Scheduled requests: the schedule time of the last run (RFC 3339, UTC)."""
    next_schedule_time: str | None = None
    """Scheduled requests: when the next run is due (RFC 3339, UTC); absent while
    suspended."""
    history: list[HistoryEntry] | None = None
    """Scheduled requests: the reports kept, newest first, at most spec.historyLimit."""
    metering: MeteringStatus | None = None
    """Metered fleets: what the sampler does between reports."""


_READING = "reading"


def read_status(raw: object) -> Status:
    """The status as the API server returns it; fields this version does not know are dropped."""
    return Status.model_validate(raw or {}, context={_READING: True})
