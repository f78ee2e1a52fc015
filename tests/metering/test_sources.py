"""``prometheus`` and ``status`` on the same traffic: exact (routed) against an upper bound.

The same fleet and traffic twice (the simulator is deterministic), with requests that
matched no route and the ingress controller's Admin API calls beside the proxied ones.
docs/metering.md: the Prometheus counter is exact for routed traffic and misses the
unrouted (a lower bound of Kong's count when there are any); nginx's total, less the
probes and our own samples, still holds the Admin API calls (an upper bound).
"""

from __future__ import annotations

import asyncio
from typing import Any

from license_report.report import ledger
from license_report_sandbox.kong import nginx
from tests.metering import harness
from tests.metering.conftest import START

RATE = 5.0
UNROUTED = 0.5
ADMIN = 0.2
TICK = 1.0
INTERVAL = 300
PODS = 2
#: An hour, and one second past the last round: the ledger lacks a second at most.
SPAN = 3600 + 1


async def _metered(prometheus: str | None) -> tuple[ledger.Usage, int, int, int, int]:
    """The ledger's March, the true proxied requests, the unrouted and Admin API ones."""
    options: dict[str, Any] = {"unrouted_rate": UNROUTED, "admin_rate": ADMIN}
    async with harness.metered(
        start=START, pods=PODS, rate=RATE, tick=TICK, prometheus=prometheus,
        metering={"intervalSeconds": INTERVAL}, **options,
    ) as run:  # fmt: skip
        await asyncio.sleep(SPAN)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()["2026-03"]
        nodes = run.fleet.nodes.values()
        unrouted = sum(node.served_ever[nginx.Kind.UNROUTED] for node in nodes)
        admin = sum(node.served_ever[nginx.Kind.ADMIN] for node in nodes)
    return usage, usage.buckets["2026-03"], truth, unrouted, admin


async def test_prometheus_is_exact_for_routed_traffic_and_status_an_upper_bound() -> None:
    exact, by_prometheus, truth, unrouted, admin = await _metered("status_code_metrics")
    bound, by_status, truth_again, _, admin_again = await _metered(None)
    assert (truth, admin) == (truth_again, admin_again)  # the same traffic
    assert unrouted > 0
    assert admin > 0
    tail = PODS * (RATE + UNROUTED + ADMIN) * (1 + TICK)  # the last second, unsampled
    # prometheus: the routed requests, exactly; the unrouted ones are not in it.
    assert truth - unrouted - tail <= by_prometheus <= truth - unrouted
    assert exact.sources == ("prometheus",)
    assert not exact.estimated
    # status: every proxied request, and the Admin API calls on top (never below Kong's).
    assert truth + admin - tail <= by_status <= truth + admin
    assert by_status >= truth - tail
    assert bound.sources == ("status",)
    assert bound.estimated
