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
import contextlib
import datetime
import logging
from typing import Any

import kopf
import pydantic

from license_report.api import schedules, v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import metrics, requests
from license_report.reconcile import events, kube, output, run
from license_report.reconcile import status as patches

logger = logging.getLogger(__name__)


async def _read(context: operator_context.Context, namespace: str, name: str) -> Any | None:
    try:
        return await kube.call(
            context.clients.custom.get_namespaced_custom_object,
            v1alpha1.GROUP,
            v1alpha1.VERSION,
            namespace,
            v1alpha1.PLURAL,
            name,
        )
    except kube.ApiException as error:
        if error.status == 404:
            return None
        raise


async def _event(
    context: operator_context.Context,
    obj: dict[str, Any],
    *,
    type_: str,
    reason: str,
    message: str,
) -> None:
    await events.post(
        context.clients, obj, type_=type_, reason=reason, message=message, now=context.clock.now()
    )


async def _patch(
    context: operator_context.Context, namespace: str, name: str, fields: dict[str, Any]
) -> None:
    await patches.write(context.clients, namespace=namespace, name=name, fields=fields)


async def _run_once(
    context: operator_context.Context,
    obj: dict[str, Any],
    spec: v1alpha1.Spec,
    schedule: schedules.Schedule,
    due: datetime.datetime | None,
) -> None:
    """The report of scheduled time ``due`` (None: asked for now, by the rerun annotation):
    retried while transient, then ended either way."""
    clients, settings, clock = context.clients, context.settings, context.clock
    meta = obj["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    generation = int(meta.get("generation") or 1)
    # Every run records the annotation's value it saw: only a new value asks for a run now.
    rerun = (meta.get("annotations") or {}).get(v1alpha1.RERUN_ANNOTATION)
    current = v1alpha1.Status.model_validate(obj.get("status") or {})
    stamp = patches.timestamp(due or clock.now())
    config_map = output.config_map_name(request=name, spec=spec)
    history = output.history_name(config_map, stamp)
    timing: dict[str, Any] = {}
    if due is not None:  # a run asked for now leaves the schedule's times as they are
        timing = {
            "lastScheduleTime": stamp,
            "nextScheduleTime": patches.timestamp(schedule.next_after(max(due, clock.now()))),
        }
    await _event(
        context, obj, type_="Normal", reason="ReportStarted", message=f"scheduled report of {stamp}"
    )
    await _patch(
        context,
        namespace,
        name,
        patches.running(generation=generation, rerun=rerun, now=clock.now(), previous=current),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopwatch = metrics.Stopwatch(before=0.0)
    retry = 0
    while True:
        try:
            outcome = await run.run(
                clients=clients,
                settings=settings,
                namespace=namespace,
                name=name,
                uid=uid,
                run_id=f"{generation}/{stamp}",
                spec=spec,
                now=clock.now(),
                history=history,
            )
            break
        except run.RunError as error:
            if error.transient and loop.time() - started < settings.retry_seconds:
                delay = run.backoff(settings, retry)
                retry += 1
                metrics.observe_retry(context.metrics, reason=error.reason)
                fields = patches.waiting(
                    generation=generation,
                    reason=error.reason,
                    message=error.message,
                    now=clock.now(),
                    previous=current,
                )
                await _patch(context, namespace, name, fields)
                logger.warning(
                    "%s/%s: %s: %s; retrying in %.0f s",
                    namespace,
                    name,
                    error.reason,
                    error.message,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            fields = patches.failed(
                generation=generation,
                rerun=rerun,
                reason=error.reason,
                message=error.message,
                now=clock.now(),
                previous=current,
            )
            metrics.observe_run(
                context.metrics,
                namespace=namespace,
                name=name,
                result="failed",
                duration=stopwatch.seconds(),
            )
            await _patch(context, namespace, name, {**fields, **timing})
            await _event(
                context,
                obj,
                type_="Warning",
                reason="ReportFailed",
                message=f"{error.reason}: {error.message}",
            )
            return

    entry = v1alpha1.HistoryEntry(
        config_map=history, schedule_time=stamp, report_sha256=outcome.package.report_sha256
    ).model_dump(by_alias=True)
    before = [e.model_dump(by_alias=True) for e in current.history or [] if e.config_map != history]
    kept, dropped = [entry, *before][: spec.history_limit], before[spec.history_limit - 1 :]
    failures = outcome.collection.failures
    fields = patches.finished(
        generation=generation,
        rerun=rerun,
        now=clock.now(),
        previous=current,
        collection=outcome.collection,
        failures=failures,
        config_map=outcome.config_map,
        sha256=outcome.package.report_sha256,
    )
    await _patch(context, namespace, name, {**fields, **timing, "history": kept})
    metrics.observe_outcome(
        context.metrics,
        namespace=namespace,
        name=name,
        outcome=outcome,
        duration=stopwatch.seconds(),
    )
    # The status no longer names them: a failure to delete leaves garbage owned by the request.
    for old in dropped:
        try:
            await output.delete_history(
                clients=clients, name=old["configMap"], namespace=namespace, uid=uid
            )
        except kube.ApiException as error:
            logger.warning(
                "could not delete the old report %s/%s: %s %s",
                namespace,
                old["configMap"],
                error.status,
                error.reason,
            )
    if failures:
        await _event(
            context,
            obj,
            type_="Warning",
            reason="ReportDegraded",
            message=f"report written to ConfigMap {outcome.config_map} and {history}; "
            f"{len(failures)} gateway pods not reached",
        )
    else:
        await _event(
            context,
            obj,
            type_="Normal",
            reason="ReportSucceeded",
            message=f"report written to ConfigMap {outcome.config_map} and {history}",
        )


async def tick(context: operator_context.Context, obj: dict[str, Any]) -> float | None:
    """One look at a scheduled request: run what is owed; the clock seconds until the
    next look (None: until the request changes)."""
    meta, raw_status = obj["metadata"], obj.get("status") or {}
    try:
        spec = v1alpha1.Spec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError:
        return None  # the request handler reports it (Failed, InvalidSpec)
    if spec.schedule is None:
        return None
    schedule = schedules.Schedule.of(spec.schedule, spec.time_zone)
    now = context.clock.now()
    last = raw_status.get("lastScheduleTime")
    since = schedules.parse_time(last or meta["creationTimestamp"])
    rerun = (meta.get("annotations") or {}).get(v1alpha1.RERUN_ANNOTATION)
    if rerun is not None and rerun != raw_status.get("observedRerun"):
        await _run_once(context, obj, spec, schedule, None)  # asked for now (even suspended)
        return 0.0
    if spec.suspend:
        if raw_status.get("nextScheduleTime") is not None:
            await _patch(context, meta["namespace"], meta["name"], {"nextScheduleTime": None})
        return None
    due = schedule.due(since=since, now=now)
    if due is not None:
        await _run_once(context, obj, spec, schedule, due)
        return 0.0
    upcoming = schedule.next_after(max(now, since))
    if raw_status.get("nextScheduleTime") != patches.timestamp(upcoming):
        fields = {"nextScheduleTime": patches.timestamp(upcoming)}
        await _patch(context, meta["namespace"], meta["name"], fields)
    return (upcoming - now).total_seconds()


async def serve(context: operator_context.Context, *, namespace: str, name: str, uid: str) -> None:
    """Keep one request's schedule until it is deleted, unscheduled, or the task cancelled."""
    wake = context.wakeups.setdefault(uid, asyncio.Event())
    try:
        while True:
            wake.clear()  # before reading: a change made from here on wakes the wait below
            obj = await _read(context, namespace, name)
            if obj is None or not (obj.get("spec") or {}).get("schedule"):
                return
            wait = await tick(context, obj)
            if wait is not None and wait <= 0:
                continue
            timeout = None if wait is None else context.clock.loop_seconds(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
    finally:
        if context.wakeups.get(uid) is wake:
            del context.wakeups[uid]


def _scheduled(spec: kopf.Spec, **_: Any) -> bool:
    return bool(spec.get("schedule"))


@kopf.daemon(*requests.RESOURCE, when=_scheduled, cancellation_timeout=5.0)
async def scheduled(
    *, name: str, namespace: str | None, uid: str, retry: int, memo: Any, **_: Any
) -> None:
    if namespace is None:
        return
    context = operator_context.of(memo)
    try:
        await serve(context, namespace=namespace, name=name, uid=uid)
    except kube.ApiException as error:
        # The API server refusing for a while (a status write, a read): kopf restarts the
        # daemon after the operator's backoff, which re-reads the request and picks up
        # where the schedule stands (a run whose end was not recorded is redone, in place).
        problem = run.api_error(error)
        if not problem.transient:
            raise
        raise kopf.TemporaryError(
            f"schedule: {problem.message}", delay=run.backoff(context.settings, retry)
        ) from None
