"""What one nginx master counts: every request it serves, by kind, and the Prometheus shm series.

Kong keeps no request count of its own in DB-less mode (kong-research-metering.md
§6); what a node exposes lives in two places, both of which die with the nginx
master (a new container, a new pod) and survive ``kong reload``:

- nginx's ``stub_status`` ``requests``: one counter in the shared zone, bumped
  for every request any server block reads (proxy, Admin API, status listener,
  kubelet probes), before its handler runs (kong-research-metering.md §2: the
  ``requests`` block of the shared zone, b8fb83b8d2:src/event/ngx_event.c:562, 608,
  allocated once per master, L545-547). It is ``/status``' ``server.total_requests``
  (a643428bc4:kong/pdk/nginx.lua:70-72).
- the Prometheus plugin's ``lua_shared_dict prometheus_metrics`` (a643428bc4:
  kong/plugins/prometheus/prometheus.lua:7-13): the per-route counter, incremented
  from ``Kong.log()`` only, so only for proxied requests (exporter.lua:254-309).

`Kind` names what a simulated node serves, so a test knows the truth per kind
while the node only shows what Kong would.
"""

from __future__ import annotations

import dataclasses
import enum


class Kind(enum.StrEnum):
    """What an nginx request was, as only the simulator knows it."""

    #: Proxied, matched a route: Kong's sales counter counts it, Prometheus may.
    ROUTED = "routed"
    #: Proxied, no route matched (Kong's 404): the sales counter still counts it
    #: (e95e9e897c:kong/enterprise_edition/counters/sales/init.lua:383-395), Prometheus never.
    UNROUTED = "unrouted"
    #: A kubelet probe on the status listener (``kube-probe/`` User-Agent).
    PROBE = "probe"
    #: An Admin API request (the ingress controller's, an operator's).
    ADMIN = "admin"
    #: Any other status-listener request: a sampler's ``/status`` or ``/metrics``, a scrape.
    STATUS = "status"

    @property
    def proxied(self) -> bool:
        return self in (Kind.ROUTED, Kind.UNROUTED)


@dataclasses.dataclass(frozen=True)
class Route:
    """The route a proxied request matched, as the Prometheus labels name it.

    ``service`` None is a service-less route: counted by the plugin from 3.6 only
    (a4e495fd95), with ``service=""``.
    """

    name: str = "example-route"
    service: str | None = "example-service"
    workspace: str = "default"


DEFAULT_ROUTE = Route()


@dataclasses.dataclass(frozen=True)
class Series:
    """One ``kong_http_requests_total`` (2.x ``kong_http_status``) label set."""

    service: str
    route: str
    code: int
    #: ``service`` when the upstream answered, ``kong`` when Kong did (exporter.lua:295-309).
    source: str
    workspace: str
    consumer: str = ""
