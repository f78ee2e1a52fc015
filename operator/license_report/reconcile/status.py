"""Status of a request: phase, conditions (metav1.Condition) and summary.

Conditions are the contract; ``phase`` is a convenience for people. A
condition's ``lastTransitionTime`` changes only when its status does.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from license_report.api import v1alpha1
from license_report.reconcile import kube
from license_report.report import models

Phase = v1alpha1.Phase
Type = v1alpha1.ConditionType

# Reasons (CamelCase constants, as Kubernetes spells them).
RUNNING = "Running"
REPORT_WRITTEN = "ReportWritten"
ALL_PODS_REACHED = "AllPodsReached"
PODS_UNREACHABLE = "PodsUnreachable"
NO_ERROR = "NoError"


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
) -> list[dict[str, Any]]:
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
            ).model_dump(by_alias=True)
        )
    return result


def running(
    *, generation: int, rerun: str | None, now: datetime.datetime, previous: v1alpha1.Status
) -> dict[str, Any]:
    return {
        "phase": Phase.RUNNING,
        "observedGeneration": generation,
        "observedRerun": rerun,
        "startedAt": timestamp(now),
        "completedAt": None,
        "conditions": _conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[(Type.COMPLETE, "False", RUNNING, "collecting the report")]
            + [
                (c.type, c.status, c.reason, c.message)
                for c in previous.conditions or []
                if c.type != Type.COMPLETE
            ],
        ),
    }


def waiting(
    *, generation: int, reason: str, message: str, now: datetime.datetime, previous: v1alpha1.Status
) -> dict[str, Any]:
    """A transient problem that will be retried: shown at once, not yet a failure."""
    return {
        "phase": Phase.PENDING,
        "conditions": _conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[
                (Type.COMPLETE, "False", reason, message),
                (Type.DEGRADED, "False", NO_ERROR, ""),
                (Type.FAILED, "False", reason, f"retrying: {message}"),
            ],
        ),
    }


def failed(
    *,
    generation: int,
    rerun: str | None,
    reason: str,
    message: str,
    now: datetime.datetime,
    previous: v1alpha1.Status,
) -> dict[str, Any]:
    # reportConfigMap and reportSha256 are left as they are: the last good report stays.
    return {
        "phase": Phase.FAILED,
        "observedGeneration": generation,
        "observedRerun": rerun,
        "completedAt": timestamp(now),
        "conditions": _conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[
                (Type.COMPLETE, "False", reason, message),
                (Type.DEGRADED, "False", NO_ERROR, ""),
                (Type.FAILED, "True", reason, message),
            ],
        ),
    }


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
) -> dict[str, Any]:
    reached = sum(1 for node in collection.nodes if node.reachable)
    degraded = bool(failures)
    report = collection.report
    summary = v1alpha1.Summary(
        request_count=sum(c.request_count for c in report.counters),
        services_count=report.services_count,
        workspaces_count=report.workspaces_count,
        rbac_users=report.rbac_users,
        gateway_pods=len(collection.nodes),
        pods_reached=reached,
        kong_version=report.kong_version,
        db_version=report.db_version,
    )
    unreachable = (
        f"{len(failures)} of {len(collection.nodes)} gateway pods not reached: "
        + ", ".join(f.pod for f in failures[:20])
    )
    return {
        "phase": Phase.DEGRADED if degraded else Phase.SUCCEEDED,
        "observedGeneration": generation,
        "observedRerun": rerun,
        "completedAt": timestamp(now),
        "reportConfigMap": config_map,
        "reportSha256": sha256,
        "summary": summary.model_dump(by_alias=True),
        "notes": list(collection.notes)
        + (
            [
                f"status.failures lists {LISTED_FAILURES} of {len(failures)} failed pods; "
                "nodes.json names every one"
            ]
            if len(failures) > LISTED_FAILURES
            else []
        ),
        "failures": [
            v1alpha1.PodFailure(pod=f.pod, reason=f.reason, message=f.message[:1024]).model_dump(
                by_alias=True
            )
            for f in failures[:LISTED_FAILURES]
        ],
        "conditions": _conditions(
            previous=previous.conditions,
            now=now,
            generation=generation,
            wanted=[
                (
                    Type.COMPLETE,
                    "True",
                    REPORT_WRITTEN,
                    f"report written to ConfigMap {config_map}",
                ),
                (
                    Type.DEGRADED,
                    "True" if degraded else "False",
                    PODS_UNREACHABLE if degraded else ALL_PODS_REACHED,
                    unreachable if degraded else f"all {reached} gateway pods reached",
                ),
                (Type.FAILED, "False", NO_ERROR, ""),
            ],
        ),
    }


async def write(
    clients: kube.Clients, *, namespace: str, name: str, fields: dict[str, Any]
) -> None:
    """Merge ``fields`` into the request's status (the status subresource)."""
    await kube.call(
        clients.custom.patch_namespaced_custom_object_status,
        v1alpha1.GROUP, v1alpha1.VERSION, namespace, v1alpha1.PLURAL, name, {"status": fields},
    )  # fmt: skip
