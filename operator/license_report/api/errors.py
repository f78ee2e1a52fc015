"""Every reason the operator writes, and the one base of the errors a report run can meet.

A reason is what a user alerts on: a condition's or a pod failure's
``reason`` in the request's status, and an Event's. They are named constants
here, each with its meaning, and docs/reasons.md lists them with what to do
about each (a test fails when the two differ).

The errors a run can end with carry ``reason``, ``message`` and ``transient``
(whether trying again later may succeed). They live in the module that
raises them and share one base::

    ReportError                          api.errors
    ├── report.models ... (none: the pure layer raises ValueErrors for bad input)
    ├── LicenseError                     sources.license       InvalidLicense
    ├── ConfigError                      sources.kong          InsecureAdminToken, InvalidCA,
    │                                                          InvalidClientCertificate
    ├── NodeError                        sources.kong          a pod's reason (status.failures)
    ├── DatastoreError                   sources.datastore     Datastore*
    │   └── RouteError                   reconcile.datastore_route  DatastoreHostNotFound,
    │                                         DatastoreService*, ..., a port-forward's reason
    ├── PortForwardError                 sources.portforward   PortForward*, PodGone, ...
    ├── ApiError                         reconcile.kube        ApiError (transient: 409, 429, 5xx)
    │   ├── Unauthorized (401)
    │   ├── Forbidden (403)
    │   ├── NotFound (404)
    │   ├── Conflict (409)
    │   └── Gone (410)
    ├── SecretMissing                    reconcile.secrets     SecretNotFound
    ├── SecretInvalid                    reconcile.secrets     InvalidSecret
    ├── NotOurs                          reconcile.output      ConfigMapNotOwned
    ├── LedgerUnreadable                 reconcile.ledger      LedgerUnreadable
    ├── CollectionFailed                 reconcile.collection  NoPodReachable
    └── RunError                         reconcile.run         how a run ends, any reason

This module is in the lowest layer (``api``): the reasons are part of the
API's contract, and every layer above raises these errors.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """A CamelCase reason, as Kubernetes spells them; ``meaning`` says when it is written."""

    meaning: str

    # ``meaning`` defaults only so that a type checker accepts ``Reason("Timeout")``, the
    # lookup by value; every member gives one (a test checks).
    def __new__(cls, value: str, meaning: str = "") -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # Events on the request.
    REPORT_STARTED = "ReportStarted", "A run began collecting the report."
    REPORT_SUCCEEDED = "ReportSucceeded", "A report was written and every gateway pod reached."
    REPORT_DEGRADED = "ReportDegraded", "A report was written without some gateway pods."
    REPORT_FAILED = "ReportFailed", "A run ended without a report, after its retries."
    # Conditions of a run that goes well.
    RUNNING = "Running", "The report is being collected."
    REPORT_WRITTEN = "ReportWritten", "The report ConfigMap holds this run's report."
    ALL_PODS_REACHED = "AllPodsReached", "Every gateway pod answered."
    PODS_UNREACHABLE = "PodsUnreachable", "Some gateway pods did not answer; each is in failures."
    NO_ERROR = "NoError", "The condition does not hold: nothing went wrong."
    # Why a run failed, or waits to be retried.
    INVALID_SPEC = "InvalidSpec", "The spec does not validate."
    SECRET_NOT_FOUND = "SecretNotFound", "A Secret, or a key of it, named by the spec is missing."
    INVALID_SECRET = "InvalidSecret", "A Secret's value is not UTF-8 text."
    INVALID_CA = "InvalidCA", "The Admin API's CA bundle is not valid PEM."
    INVALID_CLIENT_CERTIFICATE = (
        "InvalidClientCertificate",
        "The Admin API client certificate Secret is not a matching, unencrypted PEM pair.",
    )
    INVALID_SIGNING_KEY = "InvalidSigningKey", "The signing key is not an Ed25519 PEM key."
    INVALID_LICENSE = "InvalidLicense", "The Kong license cannot be read."
    INSECURE_ADMIN_TOKEN = "InsecureAdminToken", "An admin token would be sent over plain http."
    INVALID_HASH_KEY = "InvalidHashKey", "The operator's hash-key Secret is malformed."
    NO_PODS_MATCHED = "NoPodsMatched", "No pod matches the gateway selector."
    KONNECT_MANAGED = (
        "KonnectManaged",
        "The gateways are Konnect data planes (KONG_KONNECT_MODE=on): their usage is in Konnect.",
    )
    CONFLICTING_POD_CONFIGURATION = (
        "ConflictingPodConfiguration",
        "The gateway pods disagree on a setting the operator derives (datastore, license, token).",
    )
    ADMIN_PORT_NOT_FOUND = (
        "AdminPortNotFound",
        "No gateway pod has the Admin API port named by spec.gateway.adminApi.portName.",
    )
    ADMIN_TLS_FAILED = (
        "AdminTLSFailed",
        "TLS to the Admin API failed on every gateway pod: a configuration problem.",
    )
    DATASTORE_NOT_CONFIGURED = (
        "DatastoreNotConfigured",
        "spec.datastore.postgres gives no host and the gateway pods name none.",
    )
    NO_POD_REACHABLE = "NoPodReachable", "No gateway pod answered."
    CONFIG_MAP_NOT_OWNED = "ConfigMapNotOwned", "The report ConfigMap exists and is not ours."
    LEDGER_UNREADABLE = (
        "LedgerUnreadable",
        "A metering ledger ConfigMap's ledger.json is not a ledger this operator reads.",
    )
    API_ERROR = "ApiError", "The Kubernetes API refused a call."
    DATASTORE_CONNECTION_REFUSED = (
        "DatastoreConnectionRefused",
        "Nothing listens at the datastore's address.",
    )
    DATASTORE_TIMEOUT = "DatastoreTimeout", "The datastore did not answer in time."
    DATASTORE_UNAVAILABLE = "DatastoreUnavailable", "The datastore is starting or overloaded."
    DATASTORE_AUTHENTICATION_FAILED = (
        "DatastoreAuthenticationFailed",
        "The datastore refused the user or password.",
    )
    DATASTORE_DATABASE_NOT_FOUND = "DatastoreDatabaseNotFound", "The database does not exist."
    DATASTORE_PERMISSION_DENIED = (
        "DatastorePermissionDenied",
        "The datastore user may not read Kong's tables.",
    )
    DATASTORE_TLS_ERROR = "DatastoreTLSError", "TLS to the datastore failed."
    DATASTORE_NOT_A_KONG_DATABASE = (
        "DatastoreNotAKongDatabase",
        "The database has no Kong tables.",
    )
    DATASTORE_STATEMENT_TIMEOUT = "DatastoreStatementTimeout", "A datastore query took too long."
    DATASTORE_QUERY_FAILED = "DatastoreQueryFailed", "A datastore query failed."
    # Why one gateway pod is in status.failures (and nodes.json).
    TIMEOUT = "Timeout", "The pod's Admin API did not answer in time."
    CONNECTION_REFUSED = "ConnectionRefused", "Nothing listens at the pod's Admin API port."
    CONNECTION_ERROR = "ConnectionError", "The pod's Admin API could not be reached."
    TLS_ERROR = "TLSError", "TLS to the pod's Admin API failed."
    UNAUTHORIZED = "Unauthorized", "The pod's Admin API refused the token (401, 403)."
    HTTP_ERROR = "HTTPError", "The pod's Admin API answered an unexpected HTTP status."
    BAD_RESPONSE = "BadResponse", "The pod's Admin API answered a body that is not Kong's."
    BODY_TOO_LARGE = "BodyTooLarge", "The pod's Admin API answered a body over the size cap."
    NOT_READY = "NotReady", "The pod is not Running and Ready, or has no Admin API port."
    # Port-forward through the Kubernetes API (Admin APIs that listen on the pod's loopback).
    PORT_FORWARD_FORBIDDEN = (
        "PortForwardForbidden",
        "RBAC does not let the operator create pods/portforward in the pod's namespace.",
    )
    POD_GONE = "PodGone", "The pod was deleted before it could be asked."
    PORT_FORWARD_FAILED = (
        "PortForwardFailed",
        "The API server or the kubelet would not port-forward to the pod.",
    )
    API_SERVER_UNREACHABLE = (
        "ApiServerUnreachable",
        "The Kubernetes API server could not be reached to port-forward.",
    )
    # Reaching a datastore host that is a Service name, from outside the cluster.
    DATASTORE_HOST_NOT_FOUND = (
        "DatastoreHostNotFound",
        "The datastore host does not resolve, and is not a Service name.",
    )
    DATASTORE_SERVICE_NOT_FOUND = (
        "DatastoreServiceNotFound",
        "The datastore host does not resolve, and names no Service in the cluster.",
    )
    DATASTORE_SERVICE_PORT_NOT_FOUND = (
        "DatastoreServicePortNotFound",
        "The datastore Service has no port matching the datastore port.",
    )
    DATASTORE_NO_READY_ENDPOINT = (
        "DatastoreNoReadyEndpoint",
        "No ready pod backs the datastore Service, to port-forward to.",
    )
    DATASTORE_LOOKUP_FORBIDDEN = (
        "DatastoreLookupForbidden",
        "RBAC does not let the operator read the datastore Service or its EndpointSlices.",
    )


class ReportError(Exception):
    """A problem a report run can meet: why (``reason``), what to do (``message``), and
    whether trying again later may succeed (``transient``).

    Subclasses set ``reason`` and ``transient`` as class attributes where they
    are always the same; a raise site may give them explicitly.
    """

    reason: Reason
    transient: bool = False

    def __init__(
        self, message: str, *, reason: Reason | None = None, transient: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if transient is not None:
            self.transient = transient
