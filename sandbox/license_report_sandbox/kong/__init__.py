"""A Kong Admin API simulator: many gateway nodes in one process, each on its own loopback address.

- `versions` -- version strings and the release each behaviour first shipped in;
- `nodes` -- the node model: version, mode, role, telemetry, and the requests a
  node proxies and flushes through the strategy Kong would pick for it;
- `store` -- where figures come from: Kong's tables in memory (`Datastore`,
  shared by a cluster's DB-mode nodes), a real PostgreSQL (`PostgresStore`),
  or a DB-less node's own configuration;
- `sales` -- Kong's window and bucket rules (``get_count_by_month``), ported;
- `bodies` -- what ``/``, ``/status`` and ``/license/report`` answer, version by
  version (docs/kong-fidelity.md cites Kong's source for each rule);
- `lists` -- the paged entity lists and Kong's opaque offsets;
- `routing` -- which of those a request gets (token, path, method);
- `fleet` -- the server: one aiohttp application, one site per node address;
- `nginx` -- what one nginx master counts, by kind (the truth a test compares with);
- `prometheus`, `exposition` -- what the Prometheus plugin counts and ``/metrics`` shows;
- `status_api` -- the status listener (``/status``, ``/status/ready``, ``/metrics``);
- `traffic` -- proxied requests, Admin API calls and kubelet probes by the loop's clock;
- `child` -- the same fleet in its own process (``python -m license_report_sandbox.kong``).

Callers import this package alone: ``kong.SimNode(...)``, ``kong.Fleet(nodes)``.
"""

from __future__ import annotations

from license_report_sandbox import faults
from license_report_sandbox.kong.child import demo_nodes
from license_report_sandbox.kong.fleet import Fleet
from license_report_sandbox.kong.nginx import Kind, Route
from license_report_sandbox.kong.nodes import (
    DEFAULT_TELEMETRY_ENDPOINT,
    UNKNOWN_BUCKET,
    Datastore,
    Mode,
    SimNode,
    SimPlugin,
    Strategy,
)
from license_report_sandbox.kong.store import PostgresStore
from license_report_sandbox.kong.traffic import LoopClock, Probe, Traffic

#: Re-exported so that a test needs one import: ``kong.Fault(latency=0.1)``.
Fault = faults.Fault

__all__ = [
    "DEFAULT_TELEMETRY_ENDPOINT",
    "UNKNOWN_BUCKET",
    "Datastore",
    "Fault",
    "Fleet",
    "Kind",
    "LoopClock",
    "Mode",
    "PostgresStore",
    "Probe",
    "Route",
    "SimNode",
    "SimPlugin",
    "Strategy",
    "Traffic",
    "demo_nodes",
]
