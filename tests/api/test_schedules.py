"""spec.schedule and spec.timeZone: cron times in a time zone, CronJob's catch-up rule."""

from __future__ import annotations

import datetime

import pydantic
import pytest

from license_report.api import schedules, v1alpha1

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_monthly_in_berlin_is_midnight_local_across_daylight_saving() -> None:
    schedule = schedules.Schedule.of("@monthly", "Europe/Berlin")
    moment, runs = at("2026-01-15T00:00:00"), []
    for _ in range(12):
        moment = schedule.next_after(moment)
        runs.append(moment)
    # 23:00 UTC in winter (CET), 22:00 UTC in summer (CEST): always 00:00 in Berlin.
    assert [r.strftime("%m-%d %H:%M") for r in runs] == [
        "01-31 23:00", "02-28 23:00", "03-31 22:00", "04-30 22:00", "05-31 22:00",
        "06-30 22:00", "07-31 22:00", "08-31 22:00", "09-30 22:00", "10-31 23:00",
        "11-30 23:00", "12-31 23:00",
    ]  # fmt: skip


def test_quarterly_is_the_first_of_each_quarter() -> None:
    schedule = schedules.Schedule.of("@quarterly")
    assert schedule.next_after(at("2026-02-10T00:00:00")) == at("2026-04-01T00:00:00")
    assert schedule.next_after(at("2026-04-01T00:00:00")) == at("2026-07-01T00:00:00")


def test_nothing_is_owed_at_creation_and_the_first_time_is_owed_once_reached() -> None:
    schedule = schedules.Schedule.of("0 6 1 * *")
    created = at("2026-11-27T10:00:00")
    assert schedule.due(since=created, now=created) is None
    assert schedule.due(since=created, now=at("2026-12-01T05:59:59")) is None
    assert schedule.due(since=created, now=at("2026-12-01T06:00:00")) == at("2026-12-01T06:00:00")
    # Once run, the same time is not owed again.
    last = at("2026-12-01T06:00:00")
    assert schedule.due(since=last, now=at("2026-12-20T00:00:00")) is None


def test_times_missed_while_down_are_one_catch_up_run_for_the_latest() -> None:
    schedule = schedules.Schedule.of("@monthly")
    owed = schedule.due(since=at("2026-01-01T00:00:00"), now=at("2026-06-15T12:00:00"))
    assert owed == at("2026-06-01T00:00:00")  # not five runs: one, for June
    assert schedule.next_after(at("2026-06-15T12:00:00")) == at("2026-07-01T00:00:00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("schedule", "61 * * * *", "is not a valid cron expression"),
        ("schedule", "every month", "is not a cron expression: five fields"),
        ("schedule", "0 0 0 1 * *", "is not a cron expression: five fields"),
        ("timeZone", "Mars/Olympus", "is not an IANA time zone"),
        ("historyLimit", 0, "greater than or equal to 1"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(
    field: str, value: object, message: str
) -> None:
    spec = {
        "gateway": {"selector": {"matchLabels": {"a": "b"}}},
        "schedule": "@monthly",
        field: value,
    }
    with pytest.raises(pydantic.ValidationError) as error:
        v1alpha1.Spec.model_validate(spec)
    (problem,) = error.value.errors()
    assert problem["loc"] == (field,)
    assert message in problem["msg"]


def test_history_limit_defaults_to_two_years_of_monthly_reports() -> None:
    spec = v1alpha1.Spec.model_validate(
        {"gateway": {"selector": {"matchLabels": {"a": "b"}}}, "schedule": "@monthly"}
    )
    assert (spec.history_limit, spec.suspend, spec.time_zone) == (24, False, None)
