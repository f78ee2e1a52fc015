"""Every default a user can meet, named once.

The same figure used to be written in the API models (and so the CRD), the
clients' settings, the operator's settings and the CLI's flags and help
texts, and the copies could drift apart. They all import it from here. This
module sits in the lowest layer and imports nothing, so the CLI can build its
help from it without loading a model or a client.

Limits that are facts about Kong or Kubernetes (Kong 3.5's 12-month window,
a ConfigMap's 1 MiB) live with the code that follows them; what is here is
what we chose and a user may change.
"""

from __future__ import annotations

import typing

# --- the gateways' Admin API (spec.gateway, ``collect --timeout/--concurrency``) -----

#: Seconds per Admin API request, body included.
ADMIN_API_TIMEOUT_SECONDS: typing.Final = 5.0
#: Gateway nodes asked at once.
MAX_CONCURRENCY: typing.Final = 64
#: The Admin API port when neither a port nor a port name is given or derived (Kong's own).
ADMIN_API_PORT: typing.Final = 8001
#: How the Admin API is reached: ``auto`` (direct where it can be verified, else through
#: the API server's port-forward), ``direct`` or ``portForward``. Not in the CRD.
ADMIN_API_ACCESS: typing.Final = "auto"

# --- the datastore (spec.datastore.postgres, ``collect --datastore``) ------------------

POSTGRES_PORT: typing.Final = 5432
POSTGRES_DATABASE: typing.Final = "kong"
POSTGRES_USER: typing.Final = "kong"
POSTGRES_SSL_MODE: typing.Final = "prefer"
#: Seconds for connecting (TCP, TLS, authentication) and for each query.
POSTGRES_TIMEOUT_SECONDS: typing.Final = 5.0

# --- the report (spec.report, ``collect --format/--months/--hash-names``) -----------

#: report.json's shape: ``auto``, the one the fleet's own Kong writes (kong-3.5 for
#: fleets on 3.5 and later, kong-2.7 below). Not in the CRD: a default written there
#: is stored in every object and could no longer follow the fleet.
REPORT_FORMAT: typing.Final = "auto"
#: Months of counters in the kong-2.7 shape, the current one included, as Kong 2.7-3.4
#: report them (``MONTHS_TO_REPORT = 23`` plus the current month). kong-3.5: always 12.
REPORT_MONTHS: typing.Final = 24
#: Keyed-hash pod and host names in nodes.json (the file that may leave the cluster).
HASH_NAMES: typing.Final = True
#: Reports of a schedule kept as ConfigMaps of their own (two years of monthly ones).
HISTORY_LIMIT: typing.Final = 24

# --- metering (spec.metering) ------------------------------------------------------

#: Seconds between two samples of a metered fleet's pods.
METERING_INTERVAL_SECONDS: typing.Final = 60
#: Where a pod's request counter is read: ``auto`` (the Prometheus plugin's per-route
#: counter where a pod shows it, else nginx's total from /status), ``prometheus``, ``status``.
METERING_SOURCE: typing.Final = "auto"
#: Months of ledger kept: Kong's 24-month 2.x window plus the current month.
METERING_RETENTION_MONTHS: typing.Final = 25

# --- the operator (``license-report run``) -------------------------------------------

#: The Secret holding the installation hash key, in the operator's namespace.
HASH_KEY_SECRET: typing.Final = "license-report-hash-key"  # noqa: S105 (a Secret's name, not a secret)
#: How long transient problems are retried before a request is Failed.
RETRY_SECONDS: typing.Final = 300.0
#: The first retry's delay, doubled each time up to the maximum.
BACKOFF_SECONDS: typing.Final = 2.0
BACKOFF_MAX_SECONDS: typing.Final = 60.0
#: How long a DNS lookup of the pods' datastore host may take before it is taken as not
#: resolving here (then a Service name is reached through port-forward): in a cluster the
#: answer takes milliseconds; outside, an operator should not wait long to learn it.
DATASTORE_DNS_TIMEOUT_SECONDS: typing.Final = 2.0
#: What one report ConfigMap may hold before nodes.json goes to part ConfigMaps: the
#: API server's 1 MiB limit on a ConfigMap's data, less 64 KiB for keys and for growth.
CONFIG_MAP_BUDGET: typing.Final = 1024 * 1024 - 64 * 1024
