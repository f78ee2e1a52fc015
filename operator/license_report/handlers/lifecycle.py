"""One attempt of a report run, start to end: the one place that writes a run's status,
posts its Events and records its metrics.

Both ways a run happens use it: the request handler (once per spec generation
and rerun value, kopf calling it again for each retry) and the schedule's
daemon (its own loop). ``attempt`` answers ``Finished``, ``Retry(after)`` or
``Failed``; the handler turns ``Retry`` into kopf's ``TemporaryError``, the
daemon into a sleep.

It lives in ``handlers``, not ``reconcile``: the metrics it records are the
operator process's (``handlers.metrics``, a layer above ``reconcile``, which
the ``collect`` command never loads), and the layers contract lets a handler
module call ``reconcile`` but not the other way round. Passing a recorder
into ``reconcile`` would buy nothing but an interface with one implementation.

Decisions the two callers used to make differently, made once here:

- Events go through ``reconcile.events.post`` (our client, the operator's
  clock), which works from a handler and from a daemon alike; kopf's
  ``kopf.event`` only queues an Event from inside a handler.
- The retry budget (``settings.retry_seconds``) is measured from the run's
  first attempt: the caller says how many seconds have passed (kopf's
  ``runtime`` for the handler, loop time for the daemon). A transient problem
  met within the budget is retried after ``run.backoff(retry)``.
- Every attempt writes Running; a transient problem writes Pending with the
  reason, an ended run Failed, Succeeded or Degraded.
- A status the API server refuses raises ``kube.ApiError``: the caller
  retries the attempt (a status that cannot be written could not say Failed
  either).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from license_report.api import errors, v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import metrics
from license_report.reconcile import events, kube, output, run, statuses

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Finished:
    """The report was written (Succeeded or Degraded)."""

    outcome: run.RunOutcome


@dataclasses.dataclass(frozen=True)
class Retry:
    """A transient problem within the retry budget: try again in ``after`` seconds."""

    after: float
    why: str = ""  # reason and message, for the caller's log


@dataclasses.dataclass(frozen=True)
class Failed:
    """The run ended without a report."""

    reason: errors.Reason
    message: str


Result = Finished | Retry | Failed


@dataclasses.dataclass(frozen=True)
class Scheduled:
    """What a schedule's run adds: its history ConfigMap, and the schedule times it records
    (none for a run asked for now, which leaves the schedule's times as they are)."""

    stamp: str  # the schedule time (or, asked for now, the time asked), as the status writes it
    history: str  # the history ConfigMap keeping this report
    limit: int  # spec.historyLimit
    times: v1alpha1.Status  # lastScheduleTime and nextScheduleTime, or nothing


@dataclasses.dataclass(frozen=True)
class _Request:
    """The request as one attempt sees it."""

    obj: Mapping[str, Any]
    namespace: str
    name: str
    uid: str
    generation: int
    rerun: str | None
    current: v1alpha1.Status

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> _Request:
        meta = obj["metadata"]
        return cls(
            obj=obj,
            namespace=meta["namespace"],
            name=meta["name"],
            uid=meta["uid"],
            generation=int(meta.get("generation") or 1),
            # Every run records the annotation's value it saw: only a new value asks for a run.
            rerun=(meta.get("annotations") or {}).get(v1alpha1.RERUN_ANNOTATION),
            current=v1alpha1.read_status(obj.get("status")),
        )


def done(obj: Mapping[str, Any]) -> bool:
    """Whether the run for the request's generation and rerun value has ended already."""
    request = _Request.of(obj)
    return statuses.done(
        current=request.current, generation=request.generation, rerun=request.rerun
    )


async def attempt(
    context: operator_context.Context,
    *,
    obj: Mapping[str, Any],
    spec: v1alpha1.Spec,
    retry: int,
    elapsed: float,
    scheduled: Scheduled | None = None,
) -> Result:
    """Attempt number ``retry`` (from 0) of the request's run, ``elapsed`` seconds after the
    first attempt began."""
    request = _Request.of(obj)
    clock = context.clock
    # What the report ConfigMap's run annotation names: the rerun value, or the schedule time.
    tag = (request.rerun or "") if scheduled is None else scheduled.stamp
    stopwatch = metrics.Stopwatch(before=elapsed)
    if retry == 0:
        started = (
            f"collecting the report (generation {request.generation})"
            if scheduled is None
            else f"scheduled report of {scheduled.stamp}"
        )
        await _event(context, request, reason=errors.Reason.REPORT_STARTED, message=started)
    await _write(
        context,
        request,
        statuses.running(
            generation=request.generation,
            rerun=request.rerun,
            now=clock.now(),
            previous=request.current,
            metering_off=spec.metering.enabled is False,
        ),
    )
    try:
        outcome = await run.run(
            clients=context.clients,
            settings=context.settings,
            namespace=request.namespace,
            name=request.name,
            uid=request.uid,
            run_id=f"{request.generation}/{tag}",
            spec=spec,
            now=clock.now(),
            history=None if scheduled is None else scheduled.history,
        )
    except errors.ReportError as error:
        if error.transient and elapsed < context.settings.retry_seconds:
            return await _wait(context, request, error=error, retry=retry)
        return await fail(
            context,
            obj=obj,
            reason=error.reason,
            message=error.message,
            elapsed=stopwatch.seconds(),
            scheduled=scheduled,
        )
    await _finish(context, request, outcome=outcome, scheduled=scheduled, stopwatch=stopwatch)
    return Finished(outcome)


async def fail(
    context: operator_context.Context,
    *,
    obj: Mapping[str, Any],
    reason: errors.Reason,
    message: str,
    elapsed: float,
    scheduled: Scheduled | None = None,
) -> Failed:
    """End the run without a report (the last good one stays), ``elapsed`` seconds after
    its first attempt began."""
    request = _Request.of(obj)
    status = statuses.failed(
        generation=request.generation,
        rerun=request.rerun,
        reason=reason,
        message=message,
        now=context.clock.now(),
        previous=request.current,
    )
    times = [] if scheduled is None else [scheduled.times]
    await _write(context, request, statuses.merge(status, *times))
    metrics.observe_run(
        context.metrics,
        namespace=request.namespace,
        name=request.name,
        result="failed",
        duration=elapsed,
    )
    await _event(
        context, request, reason=errors.Reason.REPORT_FAILED, message=f"{reason}: {message}"
    )
    return Failed(reason=reason, message=message)


async def _wait(
    context: operator_context.Context, request: _Request, *, error: errors.ReportError, retry: int
) -> Retry:
    delay = run.backoff(context.settings, retry)
    status = statuses.waiting(
        generation=request.generation,
        reason=error.reason,
        message=error.message,
        now=context.clock.now(),
        previous=request.current,
    )
    await _write(context, request, status)
    metrics.observe_retry(context.metrics, reason=error.reason)
    logger.warning(
        "%s/%s: %s: %s; retrying in %.0f s",
        request.namespace,
        request.name,
        error.reason,
        error.message,
        delay,
    )
    return Retry(after=delay, why=f"{error.reason}: {error.message}")


async def _finish(
    context: operator_context.Context,
    request: _Request,
    *,
    outcome: run.RunOutcome,
    scheduled: Scheduled | None,
    stopwatch: metrics.Stopwatch,
) -> None:
    failures = outcome.collection.failures
    status = statuses.finished(
        generation=request.generation,
        rerun=request.rerun,
        now=context.clock.now(),
        previous=request.current,
        collection=outcome.collection,
        failures=failures,
        config_map=outcome.config_map,
        sha256=outcome.package.report_sha256,
        skipped=outcome.skipped,
        derived=outcome.derived,
    )
    where = f"ConfigMap {outcome.config_map}"
    dropped: list[v1alpha1.HistoryEntry] = []
    if scheduled is not None:
        entry = v1alpha1.HistoryEntry(
            config_map=scheduled.history,
            schedule_time=scheduled.stamp,
            report_sha256=outcome.package.report_sha256,
        )
        kept, dropped = statuses.history(
            previous=request.current, entry=entry, limit=scheduled.limit
        )
        status = statuses.merge(status, scheduled.times, v1alpha1.Status(history=kept))
        where += f" and {scheduled.history}"
    await _write(context, request, status)
    metrics.observe_outcome(
        context.metrics,
        namespace=request.namespace,
        name=request.name,
        outcome=outcome,
        duration=stopwatch.seconds(),
    )
    # The status no longer names them: a failure to delete leaves garbage owned by the request.
    for old in dropped:
        try:
            await output.delete_history(
                clients=context.clients,
                name=old.config_map,
                namespace=request.namespace,
                uid=request.uid,
            )
        except errors.ReportError as error:
            logger.warning(
                "could not delete the old report %s/%s: %s",
                request.namespace,
                old.config_map,
                error.message,
            )
    if failures:
        await _event(
            context,
            request,
            reason=errors.Reason.REPORT_DEGRADED,
            message=f"report written to {where}; {len(failures)} gateway pods not reached",
        )
    else:
        await _event(
            context,
            request,
            reason=errors.Reason.REPORT_SUCCEEDED,
            message=f"report written to {where}",
        )


async def _write(
    context: operator_context.Context, request: _Request, status: v1alpha1.Status
) -> None:
    await statuses.write(
        context.clients, namespace=request.namespace, name=request.name, status=status
    )


#: Events that say something went wrong are Warnings; the others Normal.
_WARNINGS = frozenset({errors.Reason.REPORT_DEGRADED, errors.Reason.REPORT_FAILED})


async def _event(
    context: operator_context.Context, request: _Request, *, reason: errors.Reason, message: str
) -> None:
    await events.post(
        context.clients,
        request.obj,
        type_="Warning" if reason in _WARNINGS else "Normal",
        reason=reason,
        message=message,
        now=context.clock.now(),
    )


def refused(
    context: operator_context.Context, error: kube.ApiError, *, retry: int, what: str
) -> kopf.TemporaryError:
    """The API server refused a status write or a read: retried after the operator's backoff
    when it may pass (409, 429, 5xx), not bounded by ``retry_seconds`` (a status that cannot
    be written could not say Failed either); raised as it is when it may not."""
    if not error.transient:
        raise error
    return kopf.TemporaryError(
        f"{what}: {error.message}", delay=run.backoff(context.settings, retry)
    )
