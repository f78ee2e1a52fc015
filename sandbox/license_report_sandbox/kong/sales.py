"""Kong's sales counters, ported rule by rule: the window, the labels, the buckets.

A port of ``kong/counters/sales/strategies/common.lua`` (391a5ccef6, 2.7-3.4) and
``kong/enterprise_edition/counters/sales/strategies/common.lua`` (a5675f3bde /
e95e9e897c, 3.5+): ``get_year_month`` L15-27, ``should_report_bucket`` L30-38,
``get_count_by_month`` L40-62, ``get_request_buckets`` L65-81. The simulator's
figures are these rules applied to ``license_data`` rows, never our engine's.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from license_report_sandbox.kong import versions

UNKNOWN_BUCKET = "UNKNOWN"


def months_to_report(release: versions.Release) -> int:
    """``MONTHS_TO_REPORT``: 23 before 3.5 (391a5ccef6 common.lua:80), 11 from 3.5
    (a5675f3bde common.lua:85); the window is that many months back plus the current one."""
    return 11 if release.at_least(versions.V3_5) else 23


def first_month(now: datetime.datetime, months_back: int) -> tuple[int, int]:
    """``get_year_month(n)``: ``os.time{year=Y, month=M-n, day=1}`` read back, i.e. the
    current month of the node's local clock minus ``n`` (C ``mktime`` normalises)."""
    index = now.year * 12 + now.month - 1 - months_back
    return index // 12, index % 12 + 1


def should_report(first: tuple[int, int], year: int, month: int) -> bool:
    """``should_report_bucket``: ``year > min.year or (year == min.year and month >=
    min.month) or year == 0``. No upper bound: a future month from a skewed clock is kept;
    ``month = 0`` is kept only when ``year > min.year``."""
    return year > first[0] or (year == first[0] and month >= first[1]) or year == 0


def label(year: int, month: int) -> str:
    """``"%04d-%02d"`` when ``year ~= 0 and month ~= 0``, else ``"UNKNOWN"``."""
    if year != 0 and month != 0:
        return f"{year:04d}-{month:02d}"
    return UNKNOWN_BUCKET


def count_by_month(
    rows: Iterable[tuple[int, int, int]], *, first: tuple[int, int]
) -> dict[str, int]:
    """``get_count_by_month`` over ``(req_cnt, year, month)`` rows as the SQL returned them.

    The result is a Lua table iterated with ``pairs()``: its order means nothing.
    Here it is the order in which labels were first met (rows' order), which is
    not sorted either, so that nothing downstream can come to rely on an order.
    """
    counts: dict[str, int] = {}
    for req_cnt, year, month in rows:
        if should_report(first, year, month):
            key = label(year, month)
            counts[key] = counts.get(key, 0) + req_cnt
    return counts
