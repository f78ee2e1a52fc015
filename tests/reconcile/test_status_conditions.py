"""Status patches: conditions keep their transition time, runs are identified once."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pydantic
import pytest

from license_report.api import errors, v1alpha1
from license_report.reconcile import statuses
from license_report.report import aggregation, models
from tests.helpers.observations import inputs, observation

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


def test_a_misspelled_status_key_cannot_be_written() -> None:
    with pytest.raises(pydantic.ValidationError, match="next_schedule_tme"):
        v1alpha1.Status(next_schedule_tme="2026-11-27T10:00:00Z")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="observed_generaton"):
        v1alpha1.Condition(
            type="Complete",
            status="True",
            reason="ReportWritten",
            last_transition_time="2026-11-27T10:00:00Z",
            observed_generaton=1,  # type: ignore[call-arg]
        )
    with pytest.raises(pydantic.ValidationError, match="nextScheduleTme"):
        v1alpha1.Status.model_validate({"nextScheduleTme": "2026-11-27T10:00:00Z"})


def test_a_status_read_back_drops_fields_a_later_version_added() -> None:
    read = v1alpha1.read_status(
        {
            "phase": "Succeeded",
            "addedLater": 1,
            "conditions": [
                {"type": "Complete", "status": "True", "reason": "ReportWritten",
                 "lastTransitionTime": "2026-11-27T10:00:00Z", "addedLater": True},
            ],
        }
    )  # fmt: skip
    assert read.phase is v1alpha1.Phase.SUCCEEDED
    assert [c.reason for c in read.conditions or []] == ["ReportWritten"]


def test_a_patch_writes_the_fields_set_and_a_none_clears_one() -> None:
    assert statuses.patch_body(v1alpha1.Status(next_schedule_time=None)) == {
        "status": {"nextScheduleTime": None}
    }
    running = _wire(statuses.running(generation=3, rerun=None, now=T0, previous=_status({})))
    assert set(running) == {
        "phase", "observedGeneration", "observedRerun", "startedAt", "completedAt", "conditions",
    }  # fmt: skip
    assert running["completedAt"] is None
    assert running["observedRerun"] is None


def test_a_run_with_metering_turned_off_says_so_where_a_sampler_wrote_before() -> None:
    now = datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)
    sampled = v1alpha1.Status(metering=v1alpha1.MeteringStatus(active=True, ledger="abc"))
    turned_off = statuses.running(
        generation=2, rerun=None, now=now, previous=sampled, metering_off=True
    )
    assert turned_off.metering == statuses.METERING_OFF
    # Nothing to correct: no sampler ever wrote, or metering is on (the sampler writes).
    never = statuses.running(
        generation=2, rerun=None, now=now, previous=v1alpha1.Status(), metering_off=True
    )
    assert "metering" not in never.model_dump(exclude_unset=True)
    on = statuses.running(generation=2, rerun=None, now=now, previous=sampled)
    assert "metering" not in on.model_dump(exclude_unset=True)
