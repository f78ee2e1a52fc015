"""A rolling update that replaces every pod mid-month: the ledger keeps what the gone pods
served, and a report counts them.

The Kong chart's pods are replaced one at a time (`MeteredFleet.roll`): each old pod
serves on for ``kong quit --wait=15`` after its deletion starts, and the daemon samples
it at once and every few seconds meanwhile (handlers.metering). What docs/metering.md
says a normally deleted pod loses: only what it served after its last termination
sample, a few seconds of traffic.
"""

from __future__ import annotations

import asyncio
import json

from license_report.handlers import metering as metering_daemon
from license_report.report import aggregation
from tests.metering import harness
from tests.metering.conftest import START

HOUR = 3600.0
RATE = 5.0
TICK = 1.0
INTERVAL = 300


async def test_a_rolling_update_loses_only_the_last_seconds_of_each_gone_pod() -> None:
    async with harness.metered(
        start=START,
        pods=3,
        rate=RATE,
        tick=TICK,
        metering={"intervalSeconds": INTERVAL},
        spec={"report": {"hashNames": False}},
    ) as run:
        await asyncio.sleep(HOUR + 100)  # mid-interval: the roll is no round's business
        old = list(run.fleet.live)
        new = await run.fleet.roll()
        await asyncio.sleep(HOUR)
        usage = await run.usage()
        truth = run.fleet.truth()
        outcome = await run.report()
    assert set(run.fleet.live) == set(new)
    assert not set(old) & set(new)
    metered = {pod.pod: pod for pod in usage.pods}
    assert set(metered) == {*old, *new}  # every pod ever, by name: the gone ones too
    # A gone pod: sampled until its listener closed; what it served after its last
    # termination sample (3 s apart) and the traffic's own step is all that is lost.
    gone_bound = RATE * (metering_daemon.TERMINATION_RESAMPLE_SECONDS + TICK)
    for pod in old:
        served, counted = truth[pod]["2026-03"], metered[pod].buckets["2026-03"]
        assert 0 <= served - counted <= gone_bound, (pod, served, counted)
    # A live pod: everything up to the last round (its first sample took all since start).
    for pod in new:
        served, counted = truth[pod]["2026-03"], metered[pod].buckets["2026-03"]
        assert 0 <= served - counted <= RATE * (INTERVAL + TICK), (pod, served, counted)
    assert set(usage.buckets) == {"2026-03"}  # nothing pre-metering: no UNKNOWN

    # The report counts the gone pods: report.json's counters (Kong 3.9's shape) are the
    # ledger's buckets.
    package = outcome.package
    report = json.loads(package.report_json)
    assert report["counters"] == {
        "buckets": [
            {"bucket": bucket, "request_count": count} for bucket, count in usage.buckets.items()
        ],
        "total_requests": sum(usage.buckets.values()),
    }
    nodes = {entry["pod"]: entry for entry in json.loads(package.nodes_json)}
    assert set(nodes) == {*old, *new}
    for pod in old:
        assert nodes[pod]["reachable"] is False
        assert nodes[pod]["counters_note"] == aggregation.GONE_NOTE
        assert nodes[pod]["metered"] == metered[pod].buckets
    for pod in new:
        assert nodes[pod]["reachable"] is True
        assert nodes[pod]["metered"] == metered[pod].buckets
    assert outcome.collection.failures == []  # a gone pod is no failure
    assert package.metering_json is not None
    info = json.loads(package.metering_json)
    assert info["counters"] == "ledger"
    assert info["sources"] == ["prometheus"]
    assert info["pods_metered"] == 6
    assert info["upper_bound"] is False
    assert info["interval_seconds"] == INTERVAL
    assert info["months"] == usage.buckets
    assert usage.since is not None
    assert info["metered_since"].startswith(usage.since.strftime("%Y-%m-%dT%H:%M:%S"))
    assert usage.since == START
