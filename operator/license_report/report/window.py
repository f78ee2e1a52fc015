"""The months a report covers, and how a (year, month) becomes a bucket name.

A port of Kong's ``should_report_bucket`` and its bucket label
(391a5ccef6 / e95e9e897c:…/counters/sales/strategies/common.lua:15-62): a row
is kept when its year is 0, or its (year, month) is not before the window's
first month; there is no upper bound, so a month from a clock set ahead is
reported. The label is ``UNKNOWN`` when the year or the month is 0, else
``YYYY-MM``. Kong takes months in the node's local time (UTC in Kong's
images); we take them in UTC.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

#: Kong's bucket for rows with year 0 or month 0 (counts recorded before 2.7, mostly).
UNKNOWN_BUCKET = "UNKNOWN"


@dataclasses.dataclass(frozen=True, order=True)
class YearMonth:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1-12, got {self.month}")

    @property
    def index(self) -> int:
        """Months since year 0, so that windows are plain integer ranges."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> YearMonth:
        return cls(year=index // 12, month=index % 12 + 1)

    @property
    def bucket(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclasses.dataclass(frozen=True)
class Window:
    """The current month and the ``months - 1`` before it, as Kong reports them.

    Kong before 3.5 shows 24 months (23 back plus the current one), 3.5 and
    later 12. ``last`` is the current month; Kong has no upper bound, so
    ``keeps`` does not look at it (a later month is kept).
    """

    first: YearMonth
    last: YearMonth

    @classmethod
    def ending(cls, *, now: datetime.datetime, months: int) -> Window:
        if months < 1:
            raise ValueError(f"a window needs at least one month, got {months}")
        last = YearMonth(now.year, now.month)
        return cls(first=YearMonth.from_index(last.index - months + 1), last=last)

    def keeps(self, *, year: int, month: int) -> bool:
        """Kong's ``should_report_bucket``: year 0, or from the first month on, no end.

        A row with month 0 in the first month's year fails Kong's ``month >=
        first.month`` and is dropped; in a later year it is kept (as UNKNOWN).
        """
        first = self.first
        return year == 0 or year > first.year or (year == first.year and month >= first.month)

    @property
    def months(self) -> int:
        return self.last.index - self.first.index + 1


def bucket_name(*, year: int, month: int) -> str:
    """Kong's bucket name for a ``license_data`` (year, month) pair: ``"%04d-%02d"``,
    or ``UNKNOWN`` when either is 0."""
    if year == 0 or month == 0:
        return UNKNOWN_BUCKET
    return f"{year:04d}-{month:02d}"


_BUCKET = re.compile(r"(\d{4,})-(\d{2,})")


def parse_bucket(name: str) -> tuple[int, int] | None:
    """The (year, month) of a ``YYYY-MM`` bucket; ``None`` for ``UNKNOWN``.

    The month is whatever the row held: Kong checks no range (a smallint
    column; ``"%04d-%02d"`` writes month 13 as ``2026-13``). Raises
    ``ValueError`` for anything else, so a garbled bucket from a node is
    reported instead of silently counted in the wrong month.
    """
    if name == UNKNOWN_BUCKET:
        return None
    match = _BUCKET.fullmatch(name)
    if match is None or int(match[2]) == 0:
        raise ValueError(f"bucket {name!r} is neither YYYY-MM nor {UNKNOWN_BUCKET}")
    return int(match[1]), int(match[2])


def keeps_bucket(span: Window, name: str) -> bool:
    """``span.keeps`` for a bucket a node reported: UNKNOWN always (Kong kept its rows
    and cannot say their month), ``YYYY-MM`` by the same rule as a row."""
    parsed = parse_bucket(name)
    return parsed is None or span.keeps(year=parsed[0], month=parsed[1])
