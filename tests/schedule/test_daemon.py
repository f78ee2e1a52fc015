"""Scheduled requests: runs at their times, history kept to the limit, one catch-up run.

The schedule's daemon (``handlers.schedule.serve``) runs on a looptime event
loop (see conftest): its waits of a month pass at once, while each report is a
real run against the emulated API server and simulated Kong pods. The clock
schedules are evaluated in starts at the request's creation time and moves
with the loop's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from license_report.handlers import context as operator_context
from license_report.handlers import schedule
from license_report.reconcile import kube, run
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    LoopTimeClock,
    create,
    deploy,
    get,
    patch,
    report_config_maps,
    request,
)
from tests.helpers.fleets import FleetFactory

UTC = datetime.UTC
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
DAY = 86400.0


def at(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, TIMESTAMP).replace(tzinfo=UTC)


def scheduled(name: str, **spec: Any) -> dict[str, Any]:
    body = request(name)
    body["spec"].update(spec)
    return body


@contextlib.asynccontextmanager
async def daemon(
    clients: kube.Clients,
    settings: run.OperatorSettings,
    created: dict[str, Any],
    clock: LoopTimeClock,
) -> AsyncIterator[operator_context.Context]:
    context = operator_context.Context(clients=clients, settings=settings, clock=clock)
    meta = created["metadata"]
    task = asyncio.create_task(
        schedule.serve(context, namespace=meta["namespace"], name=meta["name"], uid=meta["uid"])
    )
    try:
        yield context
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def status_when(
    clients: kube.Clients,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    limit: float = 400 * DAY,
    step: float = 5 * DAY,
) -> dict[str, Any]:
    """Poll the status every 5 days of loop time (which pass at once; less for a short
    ``limit``) until ``check`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        status: dict[str, Any] = (await get(clients, name)).get("status") or {}
        if check(status):
            return status
        await asyncio.sleep(min(step, limit / 24))
    raise AssertionError(f"not seen in {limit / DAY:.0f} days of loop time: {what}")


def first_of_months(after: datetime.datetime, count: int) -> list[str]:
    months, moment = [], after
    for _ in range(count):
        moment = (moment.replace(day=1) + datetime.timedelta(days=32)).replace(
            day=1, hour=0, minute=0, second=0
        )
        months.append(moment.strftime(TIMESTAMP))
    return months


def nodes(month: str = "2026-11") -> list[sim.SimNode]:
    return [sim.SimNode(name="gw", mode=sim.Mode.EE_DBLESS, counters={month: 5})]


async def test_a_year_of_monthly_reports_keeps_the_last_three(
    api: kubeapi.KubeAPI, clients: kube.Clients, settings: run.OperatorSettings, fleet: FleetFactory
) -> None:
    async with fleet(nodes()) as running:
        deploy(api, running)
        created = await create(clients, scheduled("monthly", schedule="@monthly", historyLimit=3))
        clock = LoopTimeClock.starting(at(created["metadata"]["creationTimestamp"]))
        months = first_of_months(clock.loop_clock.start, 12)
        began = time.perf_counter()
        async with daemon(clients, settings, created, clock) as context:
            # Nothing at creation: the first run is on the first of next month.
            first = await status_when(clients, "monthly", lambda s: "nextScheduleTime" in s,
                                      what="the next schedule time", limit=DAY)  # fmt: skip
            assert (first["nextScheduleTime"], first.get("phase")) == (months[0], None)
            status = await status_when(
                clients, "monthly", lambda s: s.get("lastScheduleTime") == months[-1],
                what="twelve monthly runs",
                step=30 * DAY,
            )  # fmt: skip
        real_seconds = time.perf_counter() - began
    print(f"a year of monthly runs: {real_seconds:.2f} s of real time")
    registry = context.metrics.registry
    runs = registry.get_sample_value("license_report_runs_total", {"result": "succeeded"})
    assert runs == 12
    labels = {"namespace": "kong", "name": "monthly", "state": "reached"}
    assert registry.get_sample_value("license_report_gateway_pods", labels) == 1

    assert status["phase"] == "Succeeded"
    assert status["nextScheduleTime"] == first_of_months(at(months[-1]), 1)[0]
    history = status["history"]
    assert [h["scheduleTime"] for h in history] == months[:-4:-1]  # the three newest, newest first
    kept = {cm.metadata.name: cm for cm in await report_config_maps(clients)}
    # The report ConfigMap and the three newest history ConfigMaps: the nine older are deleted.
    assert set(kept) == {"monthly-report", *(h["configMap"] for h in history)}
    assert history[0]["configMap"] == "monthly-report-" + months[-1][:16].translate(
        str.maketrans("", "", "-T:")
    )
    for entry in history:
        config_map = kept[entry["configMap"]]
        digest = hashlib.sha256(config_map.data["report.json"].encode()).hexdigest()
        assert digest == entry["reportSha256"]
        assert config_map.metadata.labels["licensereport.io/history"] == "true"
    latest = kept["monthly-report"]
    assert latest.metadata.annotations["licensereport.io/latest"] == history[0]["configMap"]
    assert latest.data["report.json"] == kept[history[0]["configMap"]].data["report.json"]
    assert status["reportSha256"] == history[0]["reportSha256"]


async def test_times_missed_while_down_give_one_catch_up_run(
    api: kubeapi.KubeAPI, clients: kube.Clients, settings: run.OperatorSettings, fleet: FleetFactory
) -> None:
    async with fleet(nodes()) as running:
        deploy(api, running)
        created = await create(clients, scheduled("down", schedule="@monthly"))
        start = at(created["metadata"]["creationTimestamp"])
        months = first_of_months(start, 6)
        # The last run the status knows of is the first; the operator was down since.
        api.put({**created, "status": {"lastScheduleTime": months[0], "history": []}})
        # It comes back in the middle of the sixth month.
        clock = LoopTimeClock.starting(at(months[5]) + datetime.timedelta(days=14))
        async with daemon(clients, settings, created, clock):
            status = await status_when(clients, "down", lambda s: s.get("phase") == "Succeeded",
                                       what="the catch-up run", limit=DAY)  # fmt: skip
            # Well before the next first of the month: nothing more ran.
            after = (await get(clients, "down"))["status"]
            await asyncio.sleep(10 * DAY)
            later = (await get(clients, "down"))["status"]
    assert status["lastScheduleTime"] == months[5]  # one run, for the latest missed time
    assert [h["scheduleTime"] for h in after["history"]] == [months[5]]
    assert later["history"] == after["history"]
    assert later["nextScheduleTime"] == first_of_months(at(months[5]), 1)[0]


async def test_a_suspended_schedule_runs_nothing_then_catches_up_once_resumed(
    api: kubeapi.KubeAPI, clients: kube.Clients, settings: run.OperatorSettings, fleet: FleetFactory
) -> None:
    async with fleet(nodes()) as running:
        deploy(api, running)
        created = await create(clients, scheduled("paused", schedule="@monthly", suspend=True))
        clock = LoopTimeClock.starting(at(created["metadata"]["creationTimestamp"]))
        months = first_of_months(clock.loop_clock.start, 3)
        async with daemon(clients, settings, created, clock) as context:
            # Past two first-of-months, not a third (whatever today's date).
            await asyncio.sleep((at(months[1]) - clock.now()).total_seconds() + DAY)
            paused = (await get(clients, "paused")).get("status") or {}
            assert "lastScheduleTime" not in paused
            assert not paused.get("nextScheduleTime")
            assert await report_config_maps(clients) == []

            await patch(clients, "paused", {"spec": {"suspend": False}})
            context.wakeups[created["metadata"]["uid"]].set()  # as the update handler does
            resumed = await status_when(clients, "paused", lambda s: "lastScheduleTime" in s,
                                        what="the run after resuming", limit=DAY)  # fmt: skip
    assert resumed["lastScheduleTime"] == months[1]  # the latest missed, once
    assert [h["scheduleTime"] for h in resumed["history"]] == [months[1]]


async def test_a_scheduled_run_that_fails_keeps_the_last_report_and_waits_for_the_next_time(
    api: kubeapi.KubeAPI, clients: kube.Clients, settings: run.OperatorSettings, fleet: FleetFactory
) -> None:
    async with fleet(nodes()) as running:
        deploy(api, running)
        created = await create(clients, scheduled("flaky", schedule="@monthly"))
        clock = LoopTimeClock.starting(at(created["metadata"]["creationTimestamp"]))
        months = first_of_months(clock.loop_clock.start, 3)
        async with daemon(clients, settings, created, clock) as context:
            good = await status_when(clients, "flaky", lambda s: "lastScheduleTime" in s,
                                     what="the first run")  # fmt: skip
            api.delete("v1", "Pod", "gw", "kong")  # no gateway pod: NoPodsMatched, retried
            failed = await status_when(
                clients, "flaky", lambda s: s.get("lastScheduleTime") == months[1],
                what="the second run",
            )  # fmt: skip
    assert failed["phase"] == "Failed"
    registry = context.metrics.registry
    assert registry.get_sample_value("license_report_runs_total", {"result": "failed"}) == 1
    retries = registry.get_sample_value(
        "license_report_run_retries_total", {"reason": "NoPodsMatched"}
    )
    assert retries is not None
    assert retries >= 1
    assert {c["type"]: c["reason"] for c in failed["conditions"]}["Failed"] == "NoPodsMatched"
    assert failed["nextScheduleTime"] == months[2]
    assert failed["reportSha256"] == good["reportSha256"]  # the last report stays named
    assert [h["scheduleTime"] for h in failed["history"]] == [months[0]]
    (report,) = [
        cm for cm in await report_config_maps(clients) if cm.metadata.name == "flaky-report"
    ]
    assert report.metadata.annotations["licensereport.io/report-sha256"] == good["reportSha256"]


async def test_the_rerun_annotation_asks_a_schedule_for_a_report_now_once(
    api: kubeapi.KubeAPI, clients: kube.Clients, settings: run.OperatorSettings, fleet: FleetFactory
) -> None:
    async with fleet(nodes()) as running:
        deploy(api, running)
        created = await create(clients, scheduled("asked", schedule="@monthly", suspend=True))
        clock = LoopTimeClock.starting(at(created["metadata"]["creationTimestamp"]))
        async with daemon(clients, settings, created, clock) as context:
            await asyncio.sleep(3 * DAY)
            await patch(clients, "asked", {"metadata": {"annotations": {
                "licensereport.io/rerun": "audit-2026"}}})  # fmt: skip
            asked_at = clock.now()
            context.wakeups[created["metadata"]["uid"]].set()  # as the update handler does
            now = await status_when(clients, "asked", lambda s: s.get("phase") == "Succeeded",
                                    what="the report asked for", limit=DAY)  # fmt: skip
            await asyncio.sleep(60 * DAY)  # suspended: nothing more, and not the same rerun again
            later = (await get(clients, "asked"))["status"]
    assert now["observedRerun"] == "audit-2026"
    assert "lastScheduleTime" not in now  # the schedule's own times did not move
    (entry,) = now["history"]
    assert abs(at(entry["scheduleTime"]) - asked_at) < datetime.timedelta(minutes=1)
    assert later["history"] == now["history"]
    assert later["completedAt"] == now["completedAt"]
