"""The daemon against a ledger write that is held, dropped, refused or in conflict.

Each fault is an emulator reaction on the ledger's ConfigMap writes (kmock), not a
timed kill: the operator is "killed" (its daemon task cancelled, `harness.Metered.stop`)
while its write is held at the API server, then started again. Whatever became of the
write, the ledger must hold the fleet's true proxied requests, up to the traffic since
the last round, neither less (a lost interval) nor more (an interval counted twice).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import kmock
import pytest

from license_report.api import errors
from license_report.handlers import metering as metering_daemon
from license_report_sandbox import kubeapi
from license_report_sandbox import metering as sim_metering
from tests.helpers.ledgers import refusal, writing_ledgers
from tests.metering import harness
from tests.metering.conftest import START

RATE = 5.0
TICK = 1.0
INTERVAL = 300
PODS = 3
#: What the ledger may lack at any moment: the traffic since the last round.
UNSAMPLED = PODS * RATE * (INTERVAL + TICK)


@dataclasses.dataclass
class Refusing:
    """An emulator hook for `harness.metered`: the ledger's writes answered 500 while ``on``."""

    on: bool = False

    def __call__(self, api: kubeapi.KubeAPI) -> None:
        async def refused_while_on(request: kmock.Request) -> Any:
            if self.on:
                raise refusal(500)
            return await api.emulator.answer(request)

        api.emulator[writing_ledgers] << refused_while_on


def _metered(
    hook: Callable[[kubeapi.KubeAPI], None],
) -> AbstractAsyncContextManager[harness.Metered]:
    return harness.metered(
        start=START,
        pods=PODS,
        rate=RATE,
        tick=TICK,
        metering={"intervalSeconds": INTERVAL},
        emulator_hook=hook,
    )


def metered_well(usage_total: int, truth_total: int) -> None:
    unsampled = truth_total - usage_total
    assert 0 <= unsampled <= UNSAMPLED, (truth_total, usage_total)


@pytest.mark.parametrize("fate", ["dropped", "stored"])
async def test_the_operator_killed_while_its_ledger_write_is_held(fate: str) -> None:
    """``dropped``: the write never reached etcd (the next round's delta must cover it);
    ``stored``: it got through after the operator died (nothing may count twice)."""
    writes = 0
    held = asyncio.Event()
    release = asyncio.Event()

    def hook(api: kubeapi.KubeAPI) -> None:
        async def hold_the_fourth(request: kmock.Request) -> Any:
            nonlocal writes
            writes += 1
            if writes != 4:
                return await api.emulator.answer(request)
            held.set()
            await release.wait()
            if fate == "dropped":
                raise refusal(504)
            return await api.emulator.answer(request)

        api.emulator[writing_ledgers] << hold_the_fourth

    async with _metered(hook) as run:
        await held.wait()
        held_at = run.clock.now()
        before = sum((await run.usage()).buckets.values())
        await run.stop()  # killed between its sample and its write
        await asyncio.sleep(INTERVAL * 2)  # down for a while
        release.set()
        await asyncio.sleep(1)  # the held request's fate, now the operator is gone
        after = sum((await run.usage()).buckets.values())
        run.start()
        await asyncio.sleep(3600)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
    assert held_at > START  # a later round's write was held, not the ledger's creation
    assert (after > before) is (fate == "stored")
    assert set(usage.buckets) == {"2026-03"}
    metered_well(usage.buckets["2026-03"], truth["2026-03"])


async def test_conflicts_on_the_ledger_writes_count_nothing_twice() -> None:
    writes = 0

    def hook(api: kubeapi.KubeAPI) -> None:
        async def every_third_refused(request: kmock.Request) -> Any:
            nonlocal writes
            writes += 1
            if writes % 3 == 0:
                raise refusal(409)  # another writer got there first
            return await api.emulator.answer(request)

        api.emulator[writing_ledgers] << every_third_refused

    async with _metered(hook) as run:
        await asyncio.sleep(3600 + 10)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
        status = await run.status()
        metrics = run.context.metrics
    rounds = 3600 // INTERVAL + 1
    conflicts = metrics.registry.get_sample_value("license_report_metering_ledger_conflicts_total")
    assert conflicts == writes // 3
    assert conflicts >= rounds // 3
    written = metrics.registry.get_sample_value("license_report_metering_ledger_writes_total")
    assert written == writes - writes // 3
    metered_well(usage.buckets["2026-03"], truth["2026-03"])
    assert status["metering"].get("lastError") is None  # a conflict retried is no error


async def test_api_errors_on_the_ledger_writes_are_said_and_lose_nothing() -> None:
    refusing = Refusing()
    async with _metered(refusing) as run:
        await asyncio.sleep(INTERVAL * 2 + 10)
        refusing.on = True
        await asyncio.sleep(INTERVAL * 3)  # three rounds refused
        down = await run.status()
        stuck = sum((await run.usage()).buckets.values())
        refusing.on = False
        await asyncio.sleep(INTERVAL * 2)
        usage = await run.usage()
        truth = run.fleet.truth_by_month()
        up = await run.status()
        metrics = run.context.metrics
    assert "500" in down["metering"]["lastError"]
    assert up["metering"].get("lastError") is None  # said while it lasts, not after
    assert up["metering"]["podsSampled"] == PODS
    failures = metrics.registry.get_sample_value(
        "license_report_metering_sample_failures_total", {"reason": str(errors.Reason.API_ERROR)}
    )
    assert failures == 3
    assert stuck < sum(usage.buckets.values())
    metered_well(usage.buckets["2026-03"], truth["2026-03"])


async def test_a_refused_termination_write_is_made_good_by_the_next_termination_sample() -> None:
    """The API server refuses the ledger writes for the first seconds of a pod's graceful
    shutdown: the samples taken after it (every 3 s while the pod serves on) still count
    what the pod served since the last round."""
    refusing = Refusing()
    async with _metered(refusing) as run:
        await asyncio.sleep(INTERVAL + 200)  # 200 s of traffic since the last round
        gone = sorted(run.fleet.live)[0]
        refusing.on = True
        run.fleet.begin_termination(gone)
        await asyncio.sleep(4)  # the first termination sample and the next: refused
        refusing.on = False
        await asyncio.sleep(sim_metering.QUIT_WAIT - 4)
        await run.fleet.finish_termination(gone)
        usage = await run.usage()
        truth = run.fleet.truth()
    (pod,) = [pod for pod in usage.pods if pod.pod == gone]
    lost = truth[gone]["2026-03"] - pod.buckets["2026-03"]
    assert 0 <= lost <= RATE * (metering_daemon.TERMINATION_RESAMPLE_SECONDS + TICK)
