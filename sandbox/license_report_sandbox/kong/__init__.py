"""A Kong Admin API simulator: many gateway nodes in one process, each on its own loopback address.

- `nodes` -- the node model: Kong's modes, a node's state, the `Datastore` that
  DB-mode nodes of one cluster share (every node shows its figures whole);
- `bodies` -- what ``/``, ``/status`` and ``/license/report`` answer, in Kong's
  shapes (the 2.7-3.4 report, or 3.5's for nodes of 3.5 and later);
- `lists` -- the paged entity lists and Kong's opaque offsets;
- `routing` -- which of those a request gets (token, path, method);
- `fleet` -- the server: one aiohttp application, one site per node address;
- `child` -- the same fleet in its own process (``python -m license_report_sandbox.kong``).

Callers import this package alone: ``kong.SimNode(...)``, ``kong.Fleet(nodes)``.
"""

from __future__ import annotations

from license_report_sandbox import faults
from license_report_sandbox.kong.child import demo_nodes
from license_report_sandbox.kong.fleet import Fleet
from license_report_sandbox.kong.nodes import UNKNOWN_BUCKET, Datastore, Mode, SimNode, SimPlugin

#: Re-exported so that a test needs one import: ``kong.Fault(latency=0.1)``.
Fault = faults.Fault

__all__ = [
    "UNKNOWN_BUCKET",
    "Datastore",
    "Fault",
    "Fleet",
    "Mode",
    "SimNode",
    "SimPlugin",
    "demo_nodes",
]
