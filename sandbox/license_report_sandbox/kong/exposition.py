"""``GET /metrics`` on the status listener: the Prometheus plugin's text, version by version.

The plugin's status API maps ``/metrics`` to ``exporter.collect()`` for every
loaded plugin, instance or not (a643428bc4:kong/status/init.lua:59-72;
a643428bc4:kong/plugins/prometheus/status_api.lua:4-10). What it writes
(``Prometheus:metric_data``, a643428bc4:kong/plugins/prometheus/prometheus.lua:
916-1003): every key (``name{labels}``, without the ``kong_`` prefix) sorted as
strings, a metric's ``# HELP`` and ``# TYPE`` lines printed just before its first
series, so **a metric with no series prints no HELP/TYPE either**; labels as
``k="v"`` joined by commas, ``\\`` and ``"`` escaped (L182-235); the error counter
``nginx_metric_errors_total`` is set to 0 in the shm at init (L756-757).

Modelled, by version (kong-research-metering.md §1a, §1c):

- 2.x (7ea02bc284:kong/plugins/prometheus/exporter.lua:44-52, 87-108, 300-319):
  ``kong_nginx_http_current_connections{state}`` (``total`` = nginx's requests,
  read from a ``/nginx_status`` subrequest, which nginx does not count),
  ``kong_http_status{service,route,code}``; all in the shm, always shown.
- 3.0+ (78eeaa73ed:…/exporter.lua:44-105, 321-332; a643428bc4:…/exporter.lua:51-71,
  105-110, 422-431): worker-local gauges ``kong_nginx_connections_total{node_id,
  subsystem,state}``, ``kong_nginx_requests_total{node_id,subsystem}``,
  ``kong_node_info{node_id,version}``; in the shm ``kong_http_requests_total{service,
  route,code,source,consumer}``, ``workspace`` before ``consumer`` from 3.7 (da87c4279b).
- 3.2+: no prometheus instance, no shm metrics at all (9c65255a09;
  a643428bc4:…/exporter.lua:208-210, 536).

Left out (a sampler must not depend on them, and tolerates what it does not know):
timers, memory, ``datastore_reachable``, upstream health, latency and bandwidth
histograms, stream metrics, EE's license gauges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from license_report_sandbox.kong import nginx, nodes, versions

PREFIX = "kong_"
CONTENT_TYPE = "text/plain"
_STATES = ("accepted", "active", "handled", "reading", "total", "waiting", "writing")
#: short name -> (HELP, TYPE), as each version's exporter registers them.
_ERRORS = ("Number of nginx-lua-prometheus errors", "counter")
_HELP_2X = {
    "nginx_http_current_connections": ("Number of HTTP connections", "gauge"),
    "http_status": ("HTTP status codes per service/route in Kong", "counter"),
    "nginx_metric_errors_total": _ERRORS,
}
_HELP_3X = {
    "nginx_connections_total": ("Number of connections by subsystem", "gauge"),
    "nginx_requests_total": ("Number of requests total", "gauge"),
    "node_info": ("Kong Node metadata information", "gauge"),
    "http_requests_total": ("HTTP status codes per consumer/service/route in Kong", "counter"),
    "nginx_metric_errors_total": _ERRORS,
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _key(name: str, labels: Sequence[tuple[str, object]]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels) + "}"


def _connections(node: nodes.SimNode) -> dict[str, int]:
    """The same figures ``/status`` shows (`bodies.status`)."""
    handled = node.total_requests // 10 + 1
    return {
        "accepted": handled,
        "active": 2,
        "handled": handled,
        "reading": 0,
        "total": node.total_requests,
        "waiting": 1,
        "writing": 1,
    }


def _series_labels(node: nodes.SimNode, series: nginx.Series) -> list[tuple[str, object]]:
    labels: list[tuple[str, object]] = [
        ("service", series.service),
        ("route", series.route),
        ("code", series.code),
    ]
    if not node.release.at_least(versions.V3_0):
        return labels
    labels.append(("source", series.source))
    if node.release.at_least(versions.V3_7):
        labels.append(("workspace", series.workspace))
    labels.append(("consumer", series.consumer))
    return labels


def samples(node: nodes.SimNode) -> list[tuple[str, int]]:
    """Every ``(key, value)`` the scrape writes, unsorted, keys without the prefix."""
    release = node.release
    connections = _connections(node)
    out: list[tuple[str, int]] = []
    if not release.at_least(versions.V3_0):
        counter = "http_status"
        out += [
            (_key("nginx_http_current_connections", [("state", s)]), connections[s])
            for s in _STATES
        ]
    else:
        counter = "http_requests_total"
        ids = [("node_id", node.node_id), ("subsystem", "http")]
        out += [
            (_key("nginx_connections_total", [*ids, ("state", s)]), connections[s]) for s in _STATES
        ]
        out.append((_key("nginx_requests_total", ids), node.total_requests))
        info = [("node_id", node.node_id), ("version", node.version)]
        out.append((_key("node_info", info), 1))
    local_only = release.at_least(versions.V3_2) and node.prometheus is None
    if not local_only:
        out.append(("nginx_metric_errors_total", 0))
        out += [
            (_key(counter, _series_labels(node, series)), value)
            for series, value in node.series.items()
        ]
    return out


def _short_name(key: str) -> str:
    return key.split("{", 1)[0]


def render(entries: Iterable[tuple[str, int]], *, release: versions.Release) -> str:
    """``metric_data``: sorted keys, HELP and TYPE before each metric's first series."""
    helps = _HELP_3X if release.at_least(versions.V3_0) else _HELP_2X
    lines: list[str] = []
    seen: set[str] = set()
    for key, value in sorted(entries):
        short = _short_name(key)
        if short not in seen:
            seen.add(short)
            if short in helps:
                text, kind = helps[short]
                lines.append(f"# HELP {PREFIX}{short} {text}")
                lines.append(f"# TYPE {PREFIX}{short} {kind}")
        lines.append(f"{PREFIX}{key} {value}")
    return "".join(line + "\n" for line in lines)


def metrics(node: nodes.SimNode) -> str:
    """The body of ``GET /metrics`` for ``node`` now."""
    return render(samples(node), release=node.release)
