"""Status patches: conditions keep their transition time, runs are identified once."""

from __future__ import annotations

import datetime
import json
from typing import Any

from license_report.api import errors, v1alpha1
from license_report.reconcile import statuses
from license_report.report import aggregation, models
from tests.report.conftest import inputs, observation

T0 = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def _status(fields: dict[str, object]) -> v1alpha1.Status:
    return v1alpha1.Status.model_validate(fields)


def _wire(status: v1alpha1.Status) -> dict[str, Any]:
    """What the status patch writes."""
    body = statuses.patch_body(status)["status"]
    assert isinstance(body, dict)
    return body


def _condition(fields: dict[str, object], type_: str) -> dict[str, object]:
    conditions = fields["conditions"]
    assert isinstance(conditions, list)
    return next(c for c in conditions if c["type"] == type_)


def test_transition_time_changes_only_when_the_status_does() -> None:
    first = _wire(
        statuses.failed(
            generation=1,
            rerun=None,
            reason="SecretNotFound",
            message="m",
            now=T0,
            previous=_status({}),
        )
    )
    again = _wire(
        statuses.failed(
            generation=1, rerun=None, reason="Other", message="m2", now=T1, previous=_status(first)
        )
    )
    assert _condition(again, "Failed")["lastTransitionTime"] == "2026-11-27T10:00:00Z"
    assert _condition(again, "Failed")["reason"] == "Other"
    waiting = _wire(
        statuses.waiting(
            generation=1, reason="SecretNotFound", message="m", now=T1, previous=_status(first)
        )
    )
    assert _condition(waiting, "Failed")["status"] == "False"
    assert _condition(waiting, "Failed")["lastTransitionTime"] == "2026-11-27T10:05:00Z"


def test_a_run_is_done_only_for_its_generation_and_rerun_value() -> None:
    ended = _status({"phase": "Succeeded", "observedGeneration": 2, "observedRerun": "a"})
    assert statuses.done(current=ended, generation=2, rerun="a")
    assert not statuses.done(current=ended, generation=3, rerun="a")  # spec changed
    assert not statuses.done(current=ended, generation=2, rerun="b")  # rerun asked
    assert not statuses.done(current=ended, generation=2, rerun=None)
    running = _status({"phase": "Running", "observedGeneration": 2, "observedRerun": "a"})
    assert not statuses.done(current=running, generation=2, rerun="a")  # killed mid-run: redo


def test_failed_keeps_the_last_good_report() -> None:
    fields = _wire(
        statuses.failed(
            generation=2,
            rerun=None,
            reason="InvalidLicense",
            message="m",
            now=T0,
            previous=_status({}),
        )
    )
    assert "reportConfigMap" not in fields
    assert "reportSha256" not in fields


def test_conditions_are_valid_metav1_conditions() -> None:
    fields = _wire(
        statuses.failed(
            generation=4,
            rerun=None,
            reason="DatastoreTimeout",
            message="x" * 40000,
            now=T0,
            previous=_status({}),
        )
    )
    for condition in _status(fields).conditions or []:
        assert condition.observed_generation == 4
        assert len(condition.message) <= 32768


def test_the_status_of_a_fleet_of_failures_stays_small() -> None:
    # 10,000 pods that did not answer, each with a long error: the status names 50
    # (nodes.json has all), so it stays far below etcd's 1.5 MiB object limit.
    failures = [
        models.Failure(pod=f"gw-{i:05}", reason=errors.Reason.TIMEOUT, message="m" * 2000)
        for i in range(10_000)
    ]
    collection = aggregation.aggregate(inputs([observation("gw-ok")], failures=failures))
    fields = _wire(statuses.finished(
        generation=1, rerun=None, now=T0, previous=_status({}), collection=collection,
        failures=collection.failures, config_map="r-report", sha256="0" * 64,
    ))  # fmt: skip
    assert len(json.dumps(fields)) < 100_000
    assert [f["pod"] for f in fields["failures"]] == [f"gw-{i:05}" for i in range(50)]
    assert all(len(f["message"]) == 1024 for f in fields["failures"])
    assert (
        "status.failures lists 50 of 10000 failed pods; nodes.json names every one"
        in (fields["notes"])
    )
    degraded = _condition(fields, "Degraded")["message"]
    assert isinstance(degraded, str)
    assert degraded.startswith("10000 of 10001 gateway pods not reached: gw-00000, ")
    assert fields["summary"]["gatewayPods"] == 10_001
    assert len(collection.nodes) == 10_001  # nothing is dropped from nodes.json
