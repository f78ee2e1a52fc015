"""A scheduled request under the real operator: kopf starts its daemon, nothing runs at
creation, reports come at the scheduled times, history is trimmed, a change is seen.

The operator runs in real time with a clock 3,600 times faster than the wall's, so an
``@hourly`` schedule fires every second (the daemon's logic under fake loop time, over
a year, is in tests/schedule).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

import pytest

from license_report.handlers import context as operator_context
from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    FastClock,
    Operator,
    create,
    deploy,
    get,
    patch,
    report_config_maps,
    request,
    wait_for,
)
from tests.helpers.fleets import FleetFactory

MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


@pytest.fixture
def clock() -> operator_context.Clock:
    # From one minute past the hour, whatever the wall says: the first hourly run is then
    # ~1 s away, time enough to see that nothing ran at creation.
    start = datetime.datetime.now(datetime.UTC).replace(minute=1, second=0, microsecond=0)
    return FastClock(speed=3600, start=start)


def hourly(name: str, **spec: Any) -> dict[str, Any]:
    body = request(name)
    body["spec"].update({"schedule": "@hourly", **spec})
    return body


async def test_an_hourly_schedule_reports_every_hour_and_keeps_two(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = [sim.SimNode(name="gw", mode=sim.Mode.EE_DBLESS, counters={MONTH: 7})]
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, hourly("hourly", historyLimit=2))

        async def scheduled() -> dict[str, Any] | None:
            status: dict[str, Any] = (await get(clients, "hourly")).get("status") or {}
            return status if status.get("nextScheduleTime") else None

        first = await wait_for(scheduled, what="the next schedule time")
        assert first.get("phase") is None  # nothing ran at creation
        assert await report_config_maps(clients) == []

        async def three_runs() -> dict[str, Any] | None:
            status: dict[str, Any] = (await get(clients, "hourly")).get("status") or {}
            history = status.get("history") or []
            seen.update(h["scheduleTime"] for h in history)
            return status if len(seen) >= 3 and status.get("phase") == "Succeeded" else None

        seen: set[str] = set()
        status = await wait_for(three_runs, timeout=30, what="three hourly runs")
        # Suspended: the daemon is woken by the change and runs nothing more.
        await patch(clients, "hourly", {"spec": {"suspend": True}})

        async def suspended() -> dict[str, Any] | None:
            status: dict[str, Any] = (await get(clients, "hourly"))["status"]
            return status if not status.get("nextScheduleTime") else None

        paused = await wait_for(suspended, what="the schedule suspended")
        await asyncio.sleep(2.5)  # two and a half hours of the fast clock
        after = (await get(clients, "hourly"))["status"]

    history = status["history"]
    assert len(history) == 2
    assert history[0]["scheduleTime"] == status["lastScheduleTime"]
    names = {cm.metadata.name for cm in await report_config_maps(clients)}
    assert names == {"hourly-report", *(h["configMap"] for h in after["history"])}
    assert after["lastScheduleTime"] == paused["lastScheduleTime"]  # nothing ran while suspended
    first_hour = datetime.datetime.strptime(first["nextScheduleTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert min(seen) == first["nextScheduleTime"]
    assert (first_hour.minute, first_hour.second) == (0, 0)


async def test_the_operator_stops_a_waiting_schedule_without_cancelling_it(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Between runs the daemon waits on kopf's stop flag as well: the operator's exit ends it
    at once, rather than kopf cancelling it ("... is cancelled. Will escalate.")."""
    body = request("yearly")
    body["spec"]["schedule"] = "@yearly"
    await create(clients, body)

    async def waiting() -> dict[str, Any] | None:
        status: dict[str, Any] = (await get(clients, "yearly")).get("status") or {}
        return status if status.get("nextScheduleTime") else None

    await wait_for(waiting, what="the next schedule time")
    caplog.set_level(logging.DEBUG, logger="kopf")
    await operator.stop()
    said = [r.getMessage() for r in caplog.records if "'scheduled'" in r.getMessage()]
    assert not [line for line in said if "cancelled" in line or "by force" in line], said
    assert "Daemon 'scheduled' has exited gracefully." in said, said
