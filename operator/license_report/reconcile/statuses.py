"""Status of a request: phase, conditions (metav1.Condition) and summary.

Conditions are the contract; ``phase`` is a convenience for people. A
condition's ``lastTransitionTime`` changes only when its status does.

Every patch is a ``v1alpha1.Status`` built with field names, which refuses a
key it does not know, and is written with the fields that were set (``None``
included: that clears a field), never a hand-built dict.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from license_report.api import errors, v1alpha1
from license_report.reconcile import kube
from license_report.report import models

Phase = v1alpha1.Phase
Type = v1alpha1.ConditionType

Reason = errors.Reason

#: The status lists this many failed pods at most (nodes.json has every one):
#: a status must stay small, and an object must fit etcd's 1.5 MiB whatever the fleet.
LISTED_FAILURES = 50

TERMINAL = frozenset({Phase.SUCCEEDED, Phase.DEGRADED, Phase.FAILED})


def done(*, current: v1alpha1.Status, generation: int, rerun: str | None) -> bool:
    """Whether the run for this generation and rerun value has already ended.

    This is what makes a run happen once: a restarted operator, a resumed
    handler or an unrelated update (a label) all find the run done.
    """
    return (
        current.phase in TERMINAL
        and current.observed_generation == generation
        and current.observed_rerun == rerun
    )


def timestamp(now: datetime.datetime) -> str:
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(
    *,
    previous: Sequence[v1alpha1.Condition] | None,
    now: datetime.datetime,
    generation: int,
    wanted: Sequence[tuple[str, str, str, str]],
) -> list[v1alpha1.Condition]:
    before = {c.type: c for c in previous or []}
    result = []
    for type_, status, reason, message in wanted:
        old = before.get(type_)
        since = (
            old.last_transition_time if old is not None and old.status == status else timestamp(now)
        )
        result.append(
            v1alpha1.Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message[:32768],
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return result


#: status.metering once spec.metering.enabled is false: kopf stops the sampler's daemon
#: (`handlers.metering`), which cannot say so itself.
METERING_OFF = v1alpha1.MeteringStatus(active=False, why="spec.metering.enabled is false")


def running(
    *,
    generation: int,
    rerun: str | None,
    now: datetime.datetime,
    previous: v1alpha1.Status,
    metering_off: bool = False,
) -> v1alpha1.Status:
    """The status of a run that starts. ``metering_off``: spec.metering.enabled is false,
    and a sampler's last status.metering (if any) no longer holds."""
    metering = (
        {"metering": METERING_OFF}
        if metering_off and previous.metering is not None and previous.metering != METERING_OFF
        else {}
    )
    return v1alpha1.Status(
        **metering,
        phase=Phase.RUNNING,
        observed_generation=generation,
        observed_rerun=rerun,
        started_at=timestamp(now),
        completed_at=None,
        conditions=_conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[(Type.COMPLETE, "False", Reason.RUNNING, "collecting the report")]
            + [
                (c.type, c.status, c.reason, c.message)
                for c in previous.conditions or []
                if c.type != Type.COMPLETE
            ],
        ),
    )


def _problem(
    *,
    previous: v1alpha1.Status,
    now: datetime.datetime,
    generation: int,
    reason: str,
    message: str,
    retrying: bool,
) -> list[v1alpha1.Condition]:
    """Not complete for ``reason``; Failed already, or not yet while it is retried."""
    return _conditions(
        previous=previous.conditions,
        now=now,
        generation=generation,
        wanted=[
            (Type.COMPLETE, "False", reason, message),
            (Type.DEGRADED, "False", Reason.NO_ERROR, ""),
            (Type.FAILED, "False", reason, f"retrying: {message}")
            if retrying
            else (Type.FAILED, "True", reason, message),
        ],
    )


def waiting(
    *, generation: int, reason: str, message: str, now: datetime.datetime, previous: v1alpha1.Status
) -> v1alpha1.Status:
    """A transient problem that will be retried: shown at once, not yet a failure."""
    return v1alpha1.Status(
        phase=Phase.PENDING,
        conditions=_problem(
            previous=previous, now=now, generation=generation, reason=reason, message=message,
            retrying=True,
        ),
    )  # fmt: skip


def failed(
    *,
    generation: int,
    rerun: str | None,
    reason: str,
    message: str,
    now: datetime.datetime,
    previous: v1alpha1.Status,
) -> v1alpha1.Status:
    # reportConfigMap and reportSha256 are left as they are: the last good report stays.
    return v1alpha1.Status(
        phase=Phase.FAILED,
        observed_generation=generation,
        observed_rerun=rerun,
        completed_at=timestamp(now),
        conditions=_problem(
            previous=previous, now=now, generation=generation, reason=reason, message=message,
            retrying=False,
        ),
    )  # fmt: skip


def finished(
    *,
    generation: int,
    rerun: str | None,
    now: datetime.datetime,
    previous: v1alpha1.Status,
    collection: models.Collection,
    failures: Sequence[models.Failure],
    config_map: str,
    sha256: str,
    skipped: int = 0,
    derived: v1alpha1.DerivedSettings | None = None,
) -> v1alpha1.Status:
    """The status of a run that wrote its report; ``skipped``: matched pods that are not
    gateways (written as null when none, so a merge patch clears an earlier count)."""
    reached = sum(1 for node in collection.gateway_nodes if node.reachable)
    degraded = bool(failures)
    report = collection.report
    summary = v1alpha1.Summary(
        request_count=None
        if report.counters is None
        else sum(c.request_count for c in report.counters),
        services_count=report.services_count,
        workspaces_count=report.workspaces_count,
        rbac_users=report.rbac_users,
        gateway_pods=len(collection.gateway_nodes),
        pods_reached=reached,
        pods_skipped=skipped or None,
        kong_version=report.kong_version,
        db_version=report.db_version,
    )
    unreachable = (
        f"{len(failures)} of {len(collection.gateway_nodes)} gateway pods not reached: "
        + ", ".join(f.pod for f in failures[:20])
    )
    more = (
        [
            f"status.failures lists {LISTED_FAILURES} of {len(failures)} failed pods; "
            "nodes.json names every one"
        ]
        if len(failures) > LISTED_FAILURES
        else []
    )
    return v1alpha1.Status(
        phase=Phase.DEGRADED if degraded else Phase.SUCCEEDED,
        observed_generation=generation,
        observed_rerun=rerun,
        completed_at=timestamp(now),
        report_config_map=config_map,
        report_sha256=sha256,
        summary=summary,
        derived=derived,
        notes=[*collection.notes, *more],
        failures=[
            v1alpha1.PodFailure(pod=f.pod, reason=f.reason, message=f.message[:1024])
            for f in failures[:LISTED_FAILURES]
        ],
        conditions=_conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[
                (
                    Type.COMPLETE,
                    "True",
                    Reason.REPORT_WRITTEN,
                    f"report written to ConfigMap {config_map}",
                ),
                (
                    Type.DEGRADED,
                    "True" if degraded else "False",
                    Reason.PODS_UNREACHABLE if degraded else Reason.ALL_PODS_REACHED,
                    unreachable if degraded else f"all {reached} gateway pods reached",
                ),
                (Type.FAILED, "False", Reason.NO_ERROR, ""),
            ],
        ),
    )


def history(
    *, previous: v1alpha1.Status, entry: v1alpha1.HistoryEntry, limit: int
) -> tuple[list[v1alpha1.HistoryEntry], list[v1alpha1.HistoryEntry]]:
    """A schedule's reports with ``entry`` first, at most ``limit``; and those dropped."""
    before = [e for e in previous.history or [] if e.config_map != entry.config_map]
    return [entry, *before][:limit], before[limit - 1 :]


def merge(*parts: v1alpha1.Status) -> v1alpha1.Status:
    """One patch of the fields set in ``parts`` (a later part's field wins)."""
    fields = {name: getattr(part, name) for part in parts for name in part.model_fields_set}
    return v1alpha1.Status(**fields)


def patch_body(status: v1alpha1.Status) -> dict[str, object]:
    """The merge patch for ``status``: the fields that were set, ``None`` ones included."""
    return {"status": status.model_dump(mode="json", by_alias=True, exclude_unset=True)}


async def read_request(clients: kube.Clients, *, namespace: str, name: str) -> Any | None:
    """The request as the API server has it now (None: deleted), for a daemon that re-reads
    it before each step (a schedule, metering)."""
    try:
        return await kube.call(
            clients.custom.get_namespaced_custom_object,
            v1alpha1.GROUP, v1alpha1.VERSION, namespace, v1alpha1.PLURAL, name,
        )  # fmt: skip
    except kube.NotFound:
        return None


async def write(
    clients: kube.Clients, *, namespace: str, name: str, status: v1alpha1.Status
) -> None:
    """Merge ``status`` into the request's status (the status subresource)."""
    await kube.call(
        clients.custom.patch_namespaced_custom_object_status,
        v1alpha1.GROUP, v1alpha1.VERSION, namespace, v1alpha1.PLURAL, name, patch_body(status),
    )  # fmt: skip
