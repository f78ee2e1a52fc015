"""kopf handlers for LicenseReportRequest: translate events into report runs.

One function answers create, update (spec or annotations) and resume: it
decides from the status whether the run for the current generation and rerun
annotation has ended, and if not, runs it. Transient problems are retried
with backoff for a bounded time (kopf's TemporaryError), then Failed.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf
import pydantic

from license_report.api import v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import metrics
from license_report.reconcile import kube, run
from license_report.reconcile import status as patches

RESOURCE = (v1alpha1.GROUP, v1alpha1.VERSION, v1alpha1.PLURAL)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def _patch_status(
    clients: kube.Clients, *, namespace: str, name: str, fields: dict[str, Any], retry_in: float
) -> None:
    """Write the status; when the API server refuses for a while (409, 429, 5xx), the
    handler is retried after ``retry_in`` seconds (left to kopf, it would wait 60 s).

    These retries are not bounded by ``retry_seconds``: a status that cannot be
    written could not say Failed either. A retry redoes the run, which replaces
    the report ConfigMap in place, so the status always names the last write.
    """
    try:
        await patches.write(clients, namespace=namespace, name=name, fields=fields)
    except kube.ApiException as error:
        problem = run.api_error(error)
        if not problem.transient:
            raise
        raise kopf.TemporaryError(
            f"status not written: {problem.message}", delay=retry_in
        ) from None


def _invalid_spec(error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in ("spec", *item["loc"]))
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def _normal(body: kopf.Body, *, reason: str, message: str) -> None:
    # kopf.info() obeys posting.level, which is WARNING so that kopf's own log
    # lines do not become Events; our Normal Events are posted explicitly.
    kopf.event(body, type="Normal", reason=reason, message=message)


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
async def reconcile(
    *,
    body: kopf.Body,
    meta: kopf.Meta,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str | None,
    uid: str,
    retry: int,
    runtime: datetime.timedelta,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    if namespace is None:  # the resource is namespaced: never happens
        raise kopf.PermanentError("a LicenseReportRequest without a namespace")
    context = operator_context.of(memo)
    clients, settings = context.clients, context.settings
    generation = int(meta.get("generation") or 1)
    rerun = (meta.get("annotations") or {}).get(v1alpha1.RERUN_ANNOTATION)
    current = v1alpha1.Status.model_validate(dict(status))
    if patches.done(current=current, generation=generation, rerun=rerun):
        # Ended already (maybe before this operator started): its gauges from the status.
        metrics.restore(context.metrics, namespace=namespace, name=name, status=current)
        return
    retry_in = run.backoff(settings, retry)
    stopwatch = metrics.Stopwatch(before=runtime.total_seconds())

    async def fail(reason: str, message: str) -> None:
        fields = patches.failed(
            generation=generation,
            rerun=rerun,
            reason=reason,
            message=message,
            now=_now(),
            previous=current,
        )
        await _patch_status(
            clients, namespace=namespace, name=name, fields=fields, retry_in=retry_in
        )
        metrics.observe_run(
            context.metrics,
            namespace=namespace,
            name=name,
            result="failed",
            duration=stopwatch.seconds(),
        )
        kopf.warn(body, reason="ReportFailed", message=f"{reason}: {message}")

    try:
        spec_model = v1alpha1.Spec.model_validate(dict(spec))
    except pydantic.ValidationError as error:
        await fail("InvalidSpec", _invalid_spec(error))
        return
    if spec_model.schedule is not None:
        # Runs at its scheduled times (handlers.schedule); a change wakes its daemon.
        wake = context.wakeups.get(uid)
        if wake is not None:
            wake.set()
        return

    run_id = f"{generation}/{rerun or ''}"
    if retry == 0:
        _normal(
            body, reason="ReportStarted", message=f"collecting the report (generation {generation})"
        )
    await _patch_status(
        clients,
        namespace=namespace,
        name=name,
        fields=patches.running(generation=generation, rerun=rerun, now=_now(), previous=current),
        retry_in=retry_in,
    )
    try:
        outcome = await run.run(
            clients=clients,
            settings=settings,
            namespace=namespace,
            name=name,
            uid=uid,
            run_id=run_id,
            spec=spec_model,
        )
    except run.RunError as error:
        if error.transient and runtime.total_seconds() < settings.retry_seconds:
            fields = patches.waiting(
                generation=generation,
                reason=error.reason,
                message=error.message,
                now=_now(),
                previous=current,
            )
            await _patch_status(
                clients, namespace=namespace, name=name, fields=fields, retry_in=retry_in
            )
            logger.warning("%s: %s; retrying in %.0f s", error.reason, error.message, retry_in)
            metrics.observe_retry(context.metrics, reason=error.reason)
            raise kopf.TemporaryError(f"{error.reason}: {error.message}", delay=retry_in) from None
        await fail(error.reason, error.message)
        return

    failures = outcome.collection.failures
    fields = patches.finished(
        generation=generation,
        rerun=rerun,
        now=_now(),
        previous=current,
        collection=outcome.collection,
        failures=failures,
        config_map=outcome.config_map,
        sha256=outcome.package.report_sha256,
    )
    await _patch_status(clients, namespace=namespace, name=name, fields=fields, retry_in=retry_in)
    metrics.observe_outcome(
        context.metrics,
        namespace=namespace,
        name=name,
        outcome=outcome,
        duration=stopwatch.seconds(),
    )
    if failures:
        kopf.warn(
            body,
            reason="ReportDegraded",
            message=f"report written to ConfigMap {outcome.config_map}; "
            f"{len(failures)} gateway pods not reached",
        )
    else:
        _normal(
            body,
            reason="ReportSucceeded",
            message=f"report written to ConfigMap {outcome.config_map}",
        )


def _deleted(event: kopf.RawEvent, **_: Any) -> bool:
    return event["type"] == "DELETED"


@kopf.on.event(*RESOURCE, when=_deleted)
async def forget(*, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """A deleted request's series leave /metrics.

    A watch event, not an on.delete handler: a mandatory on.delete would put a
    finalizer on every request, and an optional one is only called while some
    other finalizer holds the request; the DELETED event comes either way.
    """
    if namespace is not None:
        metrics.forget(operator_context.of(memo).metrics, namespace=namespace, name=name)
