"""Figures a report must show, worked out from seed definitions alone.

Independent of the code under test: plain Python over the seed's rows, so a
wrong window, a missed node or a double count in the product shows up here.
"""

from __future__ import annotations

import collections
import datetime

from license_report.sim import seed

NOW = datetime.datetime(2026, 11, 27, 15, 4, tzinfo=datetime.UTC)


def monthly_totals(
    definition: seed.Seed, *, months: int, now: datetime.datetime = NOW
) -> dict[str, int]:
    """What the report must show, worked out from the seed alone: per-month sums
    over nodes inside the window ending at ``now``, plus UNKNOWN."""
    last = now.year * 12 + now.month - 1
    totals: dict[str, int] = collections.defaultdict(int)
    for usage in definition.usage:
        if (usage.year, usage.month) == (0, 0):
            totals["UNKNOWN"] += usage.requests
        elif last - months < usage.year * 12 + usage.month - 1 <= last:
            totals[f"{usage.year:04d}-{usage.month:02d}"] += usage.requests
    return dict(totals)
