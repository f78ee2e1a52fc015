"""``status.metering`` as the daemon writes it each round: what is metered, why, where the
ledger is, how many pods were read and from which counters, and what could not be read."""

from __future__ import annotations

import asyncio

from license_report.api import errors
from tests.metering import harness
from tests.metering.conftest import START

INTERVAL = 300


async def test_the_status_says_what_was_sampled_and_names_a_pod_that_did_not_answer() -> None:
    async with harness.metered(
        start=START, pods=3, rate=5.0, metering={"intervalSeconds": INTERVAL}
    ) as run:
        await asyncio.sleep(INTERVAL + 10)
        healthy = await run.status()
        silent = sorted(run.fleet.live)[0]
        # Its nginx gone, its Pod still there (a hung container, say): not sampled.
        await run.fleet.fleet.stop_node(silent)
        await asyncio.sleep(INTERVAL)
        failing = await run.status()
        failures = run.context.metrics.registry.get_sample_value(
            "license_report_metering_sample_failures_total",
            {"reason": str(errors.Reason.CONNECTION_REFUSED)},
        )
    assert healthy["metering"] == {
        "active": True,
        "why": "KONG_DATABASE=off: DB-less Kong keeps no license counters",
        "ledger": run.fleet_key,
        "since": "2026-03-15T12:00:00Z",
        "lastSampleTime": "2026-03-15T12:05:00Z",
        "podsSampled": 3,
        "sources": ["prometheus"],
    }
    metering = failing["metering"]
    assert metering["podsSampled"] == 2
    assert metering["lastSampleTime"] == "2026-03-15T12:10:00Z"
    assert metering["lastError"].startswith(f"{silent}: GET http://")
    assert metering["lastError"].endswith(":8100/metrics: connection refused")
    assert failures == 1


async def test_a_round_in_which_no_pod_answers_is_said_and_the_daemon_goes_on() -> None:
    """Every pod silent (a NetworkPolicy, say): the round still writes its status, with the
    failure named, rather than the daemon failing on a round with no sample."""
    async with harness.metered(
        start=START, pods=2, rate=5.0, metering={"intervalSeconds": INTERVAL}
    ) as run:
        await asyncio.sleep(INTERVAL + 10)
        for node in sorted(run.fleet.live):
            await run.fleet.fleet.stop_node(node)
        await asyncio.sleep(INTERVAL)
        silent = (await run.status())["metering"]
    assert silent["podsSampled"] == 0
    assert silent["lastSampleTime"] == "2026-03-15T12:10:00Z"
    assert silent["lastError"].endswith(":8100/metrics: connection refused")
