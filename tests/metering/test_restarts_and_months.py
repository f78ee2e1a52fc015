"""Counter resets and month boundaries: the ledger against the simulator's truth.

A container restart starts nginx's counters at 0 (docs/metering.md): the ledger must
count the new master from zero, never the old total again, and lose only what the old
master served after its last sample (nobody can read that once it is gone). A delta goes
to the UTC month of the sample that observed it, so the one interval that spans a
month's first instant lands, whole, in the new month.
"""

from __future__ import annotations

import asyncio
import datetime

from license_report_sandbox import kubeapi, topologies
from tests.metering import harness
from tests.metering.conftest import START

RATE = 5.0
TICK = 1.0
INTERVAL = 300


async def _to_offset(run: harness.Metered, offset: float) -> None:
    """Sleep until ``offset`` seconds after a round (rounds are every INTERVAL from START)."""
    elapsed = (run.clock.now() - START).total_seconds()
    await asyncio.sleep(INTERVAL - elapsed % INTERVAL + offset)


async def test_a_pod_restarting_again_and_again_is_counted_from_zero_each_time() -> None:
    async with harness.metered(
        start=START, pods=2, rate=RATE, tick=TICK, metering={"intervalSeconds": INTERVAL}
    ) as run:
        restarting, steady = sorted(run.fleet.live)
        await _to_offset(run, 10)
        # Early in an interval: the old master's last 10 s are lost.
        run.fleet.restart(restarting)
        await _to_offset(run, 290)
        # Late in one, then early in the next: the new counter (290 s of traffic) is above
        # the last one read (10 s of it): only the Pod (restartCount, startedAt) tells.
        run.fleet.restart(restarting)
        await _to_offset(run, 10)
        run.fleet.restart(restarting)
        # Twice within one interval: the middle master is never read at all.
        await _to_offset(run, 100)
        run.fleet.restart(restarting)
        await asyncio.sleep(100)  # the same interval: this master is never read
        run.fleet.restart(restarting)
        await asyncio.sleep(INTERVAL * 2)
        await _to_offset(run, 1)  # just after a round: nothing unsampled but a second
        usage = await run.usage()
        truth = run.fleet.truth()
        status = await run.status()
    metered = {pod.pod: pod.buckets.get("2026-03", 0) for pod in usage.pods}
    # Lost for good, each restart's old master after its last reading: 10 s, 290 s, 10 s,
    # then 100 s, and the middle master's whole 100 s.
    lost = RATE * (10 + 290 + 10 + 100 + 100)
    slack = RATE * TICK * 6  # the traffic's steps, one per restart and one at the end
    assert truth[steady]["2026-03"] - metered[steady] <= RATE * (1 + TICK)
    missing = truth[restarting]["2026-03"] - metered[restarting]
    assert lost - slack <= missing <= lost + slack, (missing, lost)
    assert status["metering"]["podsSampled"] == 2


async def test_the_interval_across_a_months_first_instant_goes_to_the_new_month() -> None:
    start = datetime.datetime(2026, 3, 31, 23, 52, tzinfo=datetime.UTC)
    async with harness.metered(
        start=start, pods=2, rate=RATE, tick=TICK, metering={"intervalSeconds": INTERVAL}
    ) as run:
        # Rounds at 23:52, 23:57, 00:02, 00:07: the 23:57-00:02 interval spans April's start.
        await asyncio.sleep(15 * 60 + 1)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
    # March: exactly what was counted up to the 23:57 round; April: the rest, the three
    # March minutes after 23:57 included.
    march_after_last_round = 2 * RATE * 180
    assert (
        march_after_last_round - 2 * RATE * TICK
        <= truth["2026-03"] - usage.buckets["2026-03"]
        <= march_after_last_round
    )
    assert usage.buckets["2026-04"] >= truth["2026-04"] - 2 * RATE * TICK
    assert sum(usage.buckets.values()) <= sum(truth.values())
    assert set(usage.buckets) == {"2026-03", "2026-04"}


async def test_a_db_mode_fleet_is_not_metered_and_the_status_says_why() -> None:
    """Metering leaves Kong's own counters alone: no ledger, the reason in the status."""

    def db_mode_pods(api: kubeapi.KubeAPI) -> None:
        for pod in topologies.chart_postgres(
            pod_ips=["10.0.0.5"], image="kong/kong-gateway:3.9.1", license_secret="kong-license"
        )[:-1]:
            api.put(pod)

    async with harness.metered(start=START, pods=0, rate=RATE, emulator_hook=db_mode_pods) as run:
        await asyncio.sleep(180)
        status = await run.status()
        usage = await run.usage()
    assert status["metering"] == {
        "active": False,
        "why": "Kong keeps this fleet's counts (in its datastore)",
    }
    assert usage.pods == ()
