"""Which months a report shows, and how bucket names are read."""

from __future__ import annotations

import datetime

import pytest

from license_report.report import window


def test_window_of_twelve_months_ends_in_the_current_month() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 3, 5), months=12)
    assert (span.first.bucket, span.last.bucket) == ("2025-04", "2026-03")
    assert span.months == 12


def test_window_crossing_years_keeps_from_its_first_month_on() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 1, 31), months=3)
    kept = [m for m in range(1, 13) if span.keeps(year=2025, month=m)]
    assert kept == [11, 12]
    assert span.keeps(year=2026, month=1)


def test_a_future_month_is_kept_as_kong_has_no_upper_bound() -> None:
    # Kong's should_report_bucket compares with the first month only: a clock set
    # ahead writes a later month, and Kong reports it.
    span = window.Window.ending(now=datetime.datetime(2026, 1, 31), months=3)
    assert span.keeps(year=2026, month=2)
    assert span.keeps(year=2031, month=7)


@pytest.mark.parametrize(
    ("year", "month", "kept"),
    [
        (0, 0, True),  # pre-2.7 rows
        (0, 5, True),  # year 0: always kept, whatever the month
        (0, 13, True),
        (2025, 0, False),  # the first month's year: 0 >= 11 fails, dropped
        (2026, 0, True),  # a later year: kept (as UNKNOWN)
        (2024, 0, False),
        (2024, 12, False),
    ],
)
def test_kong_rule_for_year_or_month_zero(year: int, month: int, kept: bool) -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 1, 31), months=3)  # from 2025-11
    assert span.keeps(year=year, month=month) is kept


def test_kong_before_3_5_shows_twenty_four_months() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 11, 1), months=24)
    assert span.first.bucket == "2024-12"


def test_zero_months_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one month"):
        window.Window.ending(now=datetime.datetime(2026, 1, 1), months=0)


def test_bucket_names() -> None:
    assert window.bucket_name(year=0, month=0) == "UNKNOWN"
    assert window.bucket_name(year=0, month=5) == "UNKNOWN"
    assert window.bucket_name(year=2026, month=0) == "UNKNOWN"
    assert window.bucket_name(year=2021, month=11) == "2021-11"
    assert window.parse_bucket("UNKNOWN") is None
    assert window.parse_bucket("2021-11") == (2021, 11)
    # Kong checks no month range: a month-13 row is labelled as its column holds it.
    assert window.bucket_name(year=2026, month=13) == "2026-13"
    assert window.parse_bucket("2026-13") == (2026, 13)


@pytest.mark.parametrize("bad", ["2021-00", "21-11", "2021/11", "", "unknown", "2021-1"])
def test_garbled_buckets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - both messages are ours or month range
        window.parse_bucket(bad)
