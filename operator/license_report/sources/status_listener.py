"""A gateway pod's request counter, read from Kong's status listener (docs/metering.md).

Two counters, both kept by the pod's nginx master in shared memory, so both
start at 0 with a new container and survive ``kong reload``
(docs/kong-research-metering.md §1e, §2):

- ``prometheus``: the Prometheus plugin's per-route request counter on ``GET
  /metrics``, summed over every series: ``kong_http_requests_total`` and
  ``kong_stream_sessions_total`` (3.0+), ``kong_http_status`` and
  ``kong_stream_status`` (2.x). Proxied requests only (the plugin logs in the
  proxy's log phase: a643428bc4:kong/plugins/prometheus/exporter.lua:254-309).
  From 3.0 a series exists only where an instance runs with
  ``status_code_metrics``; no series is the same as 0 requests counted.
- ``status``: nginx's ``total_requests``, every request the pod's nginx created,
  in every server block, this one included (a643428bc4:kong/pdk/nginx.lua:79-89).
  ``GET /metrics`` carries it too, as ``kong_nginx_requests_total`` (3.0+) or
  ``kong_nginx_http_current_connections{state="total"}`` (2.x), so one request
  gives both; ``GET /status`` (``server.total_requests``) where ``/metrics`` is
  not served (the plugin not loaded).

``Reading.requests_made`` says how many requests this read made to the pod's
nginx before the value was taken, so the ledger can take the sampler's own
requests out of nginx's total.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Literal

import aiohttp
from prometheus_client import parser

from license_report.api import errors
from license_report.report import models
from license_report.sources import kong

Source = Literal["prometheus", "status"]
#: The per-route request counters, by sample name, every Kong version.
REQUEST_COUNTERS = frozenset(
    {
        "kong_http_requests_total",  # 3.0+
        "kong_stream_sessions_total",  # 3.0+
        "kong_http_status",  # 2.x
        "kong_stream_status",  # 2.x
    }
)
#: nginx's total on /metrics: 3.0+ (a gauge despite its name), and 2.x's stub_status copy.
NGINX_TOTAL_3 = "kong_nginx_requests_total"
NGINX_TOTAL_2 = "kong_nginx_http_current_connections"


@dataclasses.dataclass(frozen=True)
class Metrics:
    """What ``/metrics`` says: the request counter if any series exists, nginx's total, the
    node id (3.0+: ``kong_node_info``)."""

    requests: int | None
    nginx_total: int | None
    node_id: str | None


@dataclasses.dataclass(frozen=True)
class Reading:
    source: Source
    counter: int
    node_id: str | None
    #: Requests this read made to the pod's nginx, the one that read the value included.
    requests_made: int
    #: prometheus: whether any request counter series was there (none reads as 0).
    series: bool = True


def parse_metrics(text: str) -> Metrics:
    """The counters in a Prometheus text exposition; series of other metrics are ignored."""
    requests: int | None = None
    nginx_total: int | None = None
    node_id: str | None = None
    try:
        families = list(parser.text_string_to_metric_families(text))
    except ValueError as error:
        raise kong.NodeError(
            errors.Reason.BAD_RESPONSE, f"GET /metrics: not a Prometheus exposition ({error})"
        ) from None
    for family in families:
        for sample in family.samples:
            if sample.name in REQUEST_COUNTERS:
                requests = (requests or 0) + int(sample.value)
            elif _nginx_total(sample.name, sample.labels):
                nginx_total = int(sample.value)
            elif sample.name == "kong_node_info" and sample.labels.get("node_id"):
                node_id = sample.labels["node_id"]
    return Metrics(requests=requests, nginx_total=nginx_total, node_id=node_id)


def _nginx_total(name: str, labels: dict[str, str]) -> bool:
    if name == NGINX_TOTAL_3:
        return labels.get("subsystem", "http") == "http"  # the stream copy reads the same
    return name == NGINX_TOTAL_2 and labels.get("state") == "total"


async def _get(
    *, session: aiohttp.ClientSession, url: str, route: kong.Route, timeout: float
) -> tuple[int, bytes]:
    try:
        async with session.get(
            url,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
            ssl=route.tls if route.tls is not None else True,
            server_hostname=route.server_name,
        ) as response:
            return response.status, await response.read()
    except TimeoutError:
        raise kong.NodeError(
            errors.Reason.TIMEOUT, f"GET {url}: no answer within {timeout:g}s"
        ) from None
    except (aiohttp.ClientError, OSError) as error:
        failure = None if route.connector is None else route.connector.failure
        if failure is not None:
            raise kong.NodeError(failure.reason, failure.message) from None
        # Said as the Admin API client says it (status.metering.lastError names the pod with
        # it): a listener that closed is "connection refused", not an exception's class name.
        if isinstance(error, aiohttp.ClientConnectorError):
            if isinstance(error.os_error, ConnectionRefusedError):
                raise kong.NodeError(
                    errors.Reason.CONNECTION_REFUSED, f"GET {url}: connection refused"
                ) from None
            raise kong.NodeError(
                errors.Reason.CONNECTION_ERROR, f"GET {url}: cannot connect ({error.os_error})"
            ) from None
        raise kong.NodeError(
            errors.Reason.CONNECTION_ERROR, f"GET {url}: {error.__class__.__name__}"
        ) from None


async def read(
    *,
    session: aiohttp.ClientSession,
    target: models.Target,
    settings: kong.ClientSettings,
    source: Literal["auto", "prometheus", "status"],
) -> Reading:
    """One pod's counter from its status listener (``target.url``), reached as the Admin API
    is (directly, or through a port-forward: `kong.reach`); `kong.NodeError` if it cannot be."""
    async with kong.reach(url=target.url, settings=settings, session=session) as (own, route):
        made = 0
        metrics = None
        if source != "status":
            status, body = await _get(
                session=own, url=target.url + "/metrics", route=route, timeout=settings.timeout
            )
            made += 1
            if status == 200:
                metrics = parse_metrics(body.decode("utf-8", errors="replace"))
            elif status != 404 or source == "prometheus":
                raise kong.NodeError(errors.Reason.HTTP_ERROR, f"GET /metrics: HTTP {status}")
        if metrics is not None and metrics.requests is not None:
            return Reading("prometheus", metrics.requests, metrics.node_id, made)
        if source == "prometheus":
            # No series: nothing routed yet, or no instance with status_code_metrics;
            # the exposition cannot tell which (`Reading.series` lets the caller say so).
            node_id = metrics.node_id if metrics is not None else None
            return Reading("prometheus", 0, node_id, made, series=False)
        if metrics is not None and metrics.nginx_total is not None:
            return Reading("status", metrics.nginx_total, metrics.node_id, made)
        status, body = await _get(
            session=own, url=target.url + "/status", route=route, timeout=settings.timeout
        )
        made += 1
        if status != 200:
            raise kong.NodeError(errors.Reason.HTTP_ERROR, f"GET /status: HTTP {status}")
        return Reading("status", _total_requests(body), None, made)


def _total_requests(body: bytes) -> int:
    try:
        total = json.loads(body)["server"]["total_requests"]
    except (ValueError, KeyError, TypeError):
        raise kong.NodeError(
            errors.Reason.BAD_RESPONSE, "GET /status: no server.total_requests"
        ) from None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise kong.NodeError(
            errors.Reason.BAD_RESPONSE, "GET /status: server.total_requests is not a count"
        )
    return total
