"""kopf handlers for LicenseReportRequest: translate events into report runs.

One function answers create, update (spec or annotations) and resume: it
decides from the status whether the run for the current generation and rerun
annotation has ended, and if not, makes one attempt of it (``lifecycle``).
A transient problem is retried with backoff (kopf's TemporaryError) for a
bounded time measured by kopf's ``runtime``, then the run Fails.

(Named ``reporting``, not ``requests``: that name belongs to a well-known library.)
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf
import pydantic

from license_report.api import errors, v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import lifecycle, metrics
from license_report.reconcile import kube

RESOURCE = (v1alpha1.GROUP, v1alpha1.VERSION, v1alpha1.PLURAL)


def _invalid_spec(error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in ("spec", *item["loc"]))
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
async def reconcile(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    name: str,
    namespace: str | None,
    uid: str,
    retry: int,
    runtime: datetime.timedelta,
    memo: Any,
    **_: Any,
) -> None:
    if namespace is None:  # the resource is namespaced: never happens
        raise kopf.PermanentError("a LicenseReportRequest without a namespace")
    context = operator_context.of(memo)
    obj = dict(body)
    if lifecycle.done(obj):
        # Ended already (maybe before this operator started): its gauges from the status.
        current = v1alpha1.read_status(obj.get("status"))
        metrics.restore(context.metrics, namespace=namespace, name=name, status=current)
        return
    elapsed = runtime.total_seconds()
    try:
        try:
            spec_model = v1alpha1.Spec.model_validate(dict(spec))
        except pydantic.ValidationError as error:
            await lifecycle.fail(
                context,
                obj=obj,
                reason=errors.Reason.INVALID_SPEC,
                message=_invalid_spec(error),
                elapsed=elapsed,
            )
            return
        if spec_model.schedule is not None:
            # Runs at its scheduled times (handlers.schedule); a change wakes its daemon.
            wake = context.wakeups.get(uid)
            if wake is not None:
                wake.set()
            return
        result = await lifecycle.attempt(
            context, obj=obj, spec=spec_model, retry=retry, elapsed=elapsed
        )
    except kube.ApiError as error:
        # The status could not be written. A retry redoes the run, which replaces the
        # report ConfigMap in place, so the status names the last write. (Left to kopf,
        # the wait would be 60 s.)
        raise lifecycle.refused(context, error, retry=retry, what="status not written") from None
    if isinstance(result, lifecycle.Retry):
        raise kopf.TemporaryError(result.why, delay=result.after)


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
