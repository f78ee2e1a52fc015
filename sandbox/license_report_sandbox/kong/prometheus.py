"""When the Prometheus plugin counts a proxied request, and under which labels.

Its ``log`` handler runs from ``Kong.log()``, which only the proxy server has
(e95e9e897c:kong/templates/nginx_kong.lua:179; the status and Admin API server
blocks run no log phase, a643428bc4:kong/templates/nginx_kong.lua:458-503): probes,
Admin API calls and scrapes are never counted. Among proxied requests
(kong-research-metering.md §1b):

- up to 2.8 every logged request with a service is counted in ``kong_http_status``;
  the schema has no flag (7ea02bc284:kong/plugins/prometheus/handler.lua:18-27,
  exporter.lua:182-198, schema.lua:16);
- from 3.0 only when the instance has ``status_code_metrics: true`` (default
  false; 78eeaa73ed:kong/plugins/prometheus/schema.lua:16-20;
  a643428bc4:…/handler.lua:35-41, exporter.lua:295-309);
- up to 3.5 a request without a service is not counted (5c1606953c:…/exporter.lua:
  230-236); from 3.6 a route is enough (a4e495fd95; a643428bc4:…/exporter.lua:254-264),
  so a request that matched no route is never counted.
"""

from __future__ import annotations

from license_report_sandbox.kong import nginx, versions


def counts(*, release: versions.Release, setting: str | None, route: nginx.Route) -> bool:
    """Whether a request on ``route`` is in the per-route counter of a node with ``setting``
    (`nodes.SimNode.prometheus`: None, ``"default"``, ``"status_code_metrics"``)."""
    if setting is None:
        return False  # no instance: the log handler never runs
    if release.at_least(versions.V3_0) and setting != "status_code_metrics":
        return False
    return route.service is not None or release.at_least(versions.V3_6)


def series(route: nginx.Route, *, code: int) -> nginx.Series:
    """The label set: ``service`` = its name (``""`` service-less, 3.6+), ``route`` = its name.

    ``source`` is always ``service`` (the upstream answered): responses Kong makes itself
    (``kong``: plugin exits, upstream errors) are not simulated; the sum over series is
    what a sampler reads, and it does not depend on the label.
    """
    return nginx.Series(
        service=route.service or "",
        route=route.name,
        code=code,
        source="service",
        workspace=route.workspace,
    )
