"""The months a report covers, and how a (year, month) becomes a bucket name."""

from __future__ import annotations

import dataclasses
import datetime

#: Kong's bucket for counts recorded before 2.7.0.1 (rows with year = 0, month = 0).
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
    later 12. The ``UNKNOWN`` bucket is outside every window and always kept.
    """

    first: YearMonth
    last: YearMonth

    @classmethod
    def ending(cls, *, now: datetime.datetime, months: int) -> Window:
        if months < 1:
            raise ValueError(f"a window needs at least one month, got {months}")
        last = YearMonth(now.year, now.month)
        return cls(first=YearMonth.from_index(last.index - months + 1), last=last)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, YearMonth) and self.first.index <= item.index <= self.last.index

    @property
    def months(self) -> int:
        return self.last.index - self.first.index + 1


def bucket_name(*, year: int, month: int) -> str:
    """Kong's bucket name for a ``license_data`` (year, month) pair."""
    if year == 0 and month == 0:
        return UNKNOWN_BUCKET
    return YearMonth(year, month).bucket


def parse_bucket(name: str) -> YearMonth | None:
    """The month of a ``YYYY-MM`` bucket; ``None`` for ``UNKNOWN``.

    Raises ``ValueError`` for anything else, so a garbled bucket from a node
    is reported instead of silently counted in the wrong month.
    """
    if name == UNKNOWN_BUCKET:
        return None
    year, sep, month = name.partition("-")
    if not sep or len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(f"bucket {name!r} is neither YYYY-MM nor {UNKNOWN_BUCKET}")
    return YearMonth(int(year), int(month))
