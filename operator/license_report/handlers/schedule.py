"""Recurring reports: a kopf daemon per request with ``spec.schedule``.

The daemon reads its request, works out from ``status.lastScheduleTime`` (or
the creation time) whether a scheduled time has passed, runs the one report
owed, and sleeps until the next time or until the request changes. Like a
Kubernetes CronJob: nothing runs at creation; scheduled times missed while the
operator was down (or the schedule suspended) give one catch-up run for the
latest of them, not a burst. A new value of the ``licensereport.io/rerun``
annotation asks for a report now (suspended or not, as ``kubectl create job
--from=cronjob/...`` would), kept in the history like the others; the
schedule's times do not move.

Each run writes the report ConfigMap as an unscheduled request does, and a
history ConfigMap ``<report>-<YYYYMMDDHHMM>`` (the schedule time, UTC) that the
status lists; past ``spec.historyLimit`` the oldest are deleted. A run that
fails after its retries still counts as the scheduled one (the next is not
brought forward) and leaves the last report in place.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from typing import Any

import kopf
import pydantic

from license_report.api import schedules, v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import lifecycle, reporting
from license_report.reconcile import kube, output, statuses


async def _run_once(
    context: operator_context.Context,
    obj: Mapping[str, Any],
    spec: v1alpha1.Spec,
    schedule: schedules.Schedule,
    due: datetime.datetime | None,
) -> None:
    """The report of scheduled time ``due`` (None: asked for now, by the rerun annotation):
    retried while transient (the budget measured in loop time), then ended either way."""
    clock = context.clock
    stamp = statuses.timestamp(due or clock.now())
    config_map = output.config_map_name(request=obj["metadata"]["name"], spec=spec)
    times = (
        v1alpha1.Status()  # a run asked for now leaves the schedule's times as they are
        if due is None
        else v1alpha1.Status(
            last_schedule_time=stamp,
            next_schedule_time=statuses.timestamp(schedule.next_after(max(due, clock.now()))),
        )
    )
    scheduled = lifecycle.Scheduled(
        stamp=stamp,
        history=output.history_name(config_map, stamp),
        limit=spec.history_limit,
        times=times,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    retry = 0
    while True:
        result = await lifecycle.attempt(
            context,
            obj=obj,
            spec=spec,
            retry=retry,
            elapsed=loop.time() - started,
            scheduled=scheduled,
        )
        if not isinstance(result, lifecycle.Retry):
            return
        retry += 1
        await asyncio.sleep(result.after)


async def _write(
    context: operator_context.Context, meta: Mapping[str, Any], status: v1alpha1.Status
) -> None:
    await statuses.write(
        context.clients, namespace=meta["namespace"], name=meta["name"], status=status
    )


async def tick(context: operator_context.Context, obj: dict[str, Any]) -> float | None:
    """One look at a scheduled request: run what is owed; the clock seconds until the
    next look (None: until the request changes)."""
    meta = obj["metadata"]
    current = v1alpha1.read_status(obj.get("status"))
    try:
        spec = v1alpha1.Spec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError:
        return None  # the request handler reports it (Failed, InvalidSpec)
    if spec.schedule is None:
        return None
    schedule = schedules.Schedule.of(spec.schedule, spec.time_zone)
    now = context.clock.now()
    since = schedules.parse_time(current.last_schedule_time or meta["creationTimestamp"])
    rerun = (meta.get("annotations") or {}).get(v1alpha1.RERUN_ANNOTATION)
    if rerun is not None and rerun != current.observed_rerun:
        await _run_once(context, obj, spec, schedule, None)  # asked for now (even suspended)
        return 0.0
    if spec.suspend:
        if current.next_schedule_time is not None:
            await _write(context, meta, v1alpha1.Status(next_schedule_time=None))
        return None
    due = schedule.due(since=since, now=now)
    if due is not None:
        await _run_once(context, obj, spec, schedule, due)
        return 0.0
    upcoming = statuses.timestamp(schedule.next_after(max(now, since)))
    if current.next_schedule_time != upcoming:
        await _write(context, meta, v1alpha1.Status(next_schedule_time=upcoming))
    return (schedule.next_after(max(now, since)) - now).total_seconds()


async def serve(
    context: operator_context.Context,
    *,
    namespace: str,
    name: str,
    uid: str,
    stopped: kopf.DaemonStopped | None = None,
) -> None:
    """Keep one request's schedule until it is deleted, unscheduled, kopf stops the daemon
    (``stopped``: the operator exits, the request goes), or the task is cancelled."""
    wake = context.wakeups.setdefault(uid, asyncio.Event())
    try:
        while True:
            wake.clear()  # before reading: a change made from here on wakes the wait below
            obj = await statuses.read_request(context.clients, namespace=namespace, name=name)
            if obj is None or not (obj.get("spec") or {}).get("schedule"):
                return
            wait = await tick(context, obj)
            if wait is not None and wait <= 0:
                continue
            timeout = None if wait is None else context.clock.loop_seconds(wait)
            if await _sleep(wake, stopped, timeout):
                return  # asked to stop between runs: nothing is cut short
    finally:
        if context.wakeups.get(uid) is wake:
            del context.wakeups[uid]


async def _sleep(
    wake: asyncio.Event, stopped: kopf.DaemonStopped | None, timeout: float | None
) -> bool:
    """Until ``wake`` is set, ``timeout`` passes or kopf stops the daemon; whether it stopped."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(wake.wait())]
    if stopped is not None:
        waits.append(asyncio.ensure_future(stopped.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    return stopped is not None and bool(stopped)


def _scheduled(spec: kopf.Spec, **_: Any) -> bool:
    return bool(spec.get("schedule"))


@kopf.daemon(*reporting.RESOURCE, when=_scheduled, cancellation_timeout=5.0)
async def scheduled(
    *,
    name: str,
    namespace: str | None,
    uid: str,
    retry: int,
    memo: Any,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    if namespace is None:
        return
    context = operator_context.of(memo)
    try:
        await serve(context, namespace=namespace, name=name, uid=uid, stopped=stopped)
    except kube.ApiError as error:
        # The API server refusing for a while (a status write, a read): kopf restarts the
        # daemon after the operator's backoff, which re-reads the request and picks up
        # where the schedule stands (a run whose end was not recorded is redone, in place).
        raise lifecycle.refused(context, error, retry=retry, what="schedule") from None
