"""A steady metered fleet: what the ledger holds against what the pods really proxied.

Kong chart DB-less pods serve traffic for days of loop time while the daemon
samples them (every 300 s here, to keep the test's real time short: each round
is real HTTP); the ledger must hold every proxied request the simulator
counted, month by month, to within the traffic since the last sample.
"""

from __future__ import annotations

import asyncio
import datetime

from tests.metering import harness
from tests.metering.conftest import START

DAY = 86400.0


async def test_prometheus_meters_a_steady_fleet_exactly_over_a_month_boundary() -> None:
    start = datetime.datetime(2026, 3, 30, 12, 0, tzinfo=datetime.UTC)  # two days to April
    async with harness.metered(
        start=start, pods=3, rate=5.0, metering={"intervalSeconds": 300}
    ) as run:
        await asyncio.sleep(2 * DAY)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
        status = await run.status()
    metered = status["metering"]
    assert metered["active"] is True
    assert metered["sources"] == ["prometheus"]
    assert metered["podsSampled"] == 3
    # The pods started when metering began: nothing goes to UNKNOWN. Every request is
    # counted once: only the last interval (300 s) is not sampled yet.
    interval = 3 * 5 * 300
    assert set(usage.buckets) == {"2026-03", "2026-04"}
    unsampled = sum(truth.values()) - sum(usage.buckets.values())
    assert 0 <= unsampled <= interval
    # A delta goes to the month it was observed in: the interval across midnight of
    # March 31 lands in April (docs/metering.md), at most one interval of traffic.
    moved = truth["2026-03"] - usage.buckets["2026-03"]
    assert 0 <= moved <= interval
    assert not usage.estimated
    assert usage.pods_metered == 3


async def test_status_is_an_upper_bound_that_takes_out_the_probes() -> None:
    async with harness.metered(
        start=START, pods=2, rate=1.0, prometheus=None, metering={"intervalSeconds": 300}
    ) as run:
        await asyncio.sleep(DAY)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
        nginx = sum(node.total_requests for node in run.fleet.nodes.values())
    assert usage.estimated
    metered, proxied = usage.buckets["2026-03"], truth["2026-03"]
    # Probes (12 a minute a pod) and the samples are taken out; what is left over the
    # truth is the ingress controller's and our own last requests, small here.
    assert proxied - 2 * 300 <= metered <= proxied + 2 * 10
    assert nginx - metered > 2 * 12 * 60 * 24 * 0.99  # the probes nginx counted
