"""Which months a report shows, and how bucket names are read."""

from __future__ import annotations

import datetime

import pytest

from license_report.report import window


def test_window_of_twelve_months_ends_in_the_current_month() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 3, 5), months=12)
    assert (span.first.bucket, span.last.bucket) == ("2025-04", "2026-03")
    assert span.months == 12


def test_window_crossing_years_contains_exactly_its_months() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 1, 31), months=3)
    inside = [m for m in (window.YearMonth(2025, m) for m in range(1, 13)) if m in span]
    assert [m.bucket for m in inside] == ["2025-11", "2025-12"]
    assert window.YearMonth(2026, 1) in span
    assert window.YearMonth(2026, 2) not in span  # the future is outside too


def test_kong_before_3_5_shows_twenty_four_months() -> None:
    span = window.Window.ending(now=datetime.datetime(2026, 11, 1), months=24)
    assert span.first.bucket == "2024-12"


def test_zero_months_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one month"):
        window.Window.ending(now=datetime.datetime(2026, 1, 1), months=0)


def test_bucket_names() -> None:
    assert window.bucket_name(year=0, month=0) == "UNKNOWN"
    assert window.bucket_name(year=2021, month=11) == "2021-11"
    assert window.parse_bucket("UNKNOWN") is None
    assert window.parse_bucket("2021-11") == window.YearMonth(2021, 11)


@pytest.mark.parametrize("bad", ["2021-13", "21-11", "2021/11", "", "unknown", "2021-1"])
def test_garbled_buckets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - both messages are ours or month range
        window.parse_bucket(bad)
