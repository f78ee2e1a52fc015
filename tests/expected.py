"""Figures a report must show, worked out from seed definitions alone.

Independent of the code under test: plain Python over the seed's rows, so a
wrong window, a missed node or a double count in the product shows up here.
"""

from __future__ import annotations

import collections
import datetime

from license_report_sandbox import seed

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


def serviceless_routes(definition: seed.Seed) -> set[int]:
    """Route numbers (from 1) with no service: the last ``serviceless_routes``, or all of
    them when there is no service to give them."""
    if not definition.services:
        return set(range(1, definition.routes + 1))
    first = definition.routes - definition.serviceless_routes + 1
    return set(range(first, definition.routes + 1))


def plugin_figures(definition: seed.Seed) -> tuple[dict[str, int], int, int]:
    """Kong 3.5's plugin figures for a seed: instances per name; distinct ``function_name``
    of aws-lambda, and distinct brokers of kafka-upstream, scoped to a service-less route
    and nothing else."""
    by_name: dict[str, int] = collections.Counter(p.name for p in definition.plugins)
    bare = serviceless_routes(definition)
    route_only = [
        p
        for p in definition.plugins
        if p.route in bare and (p.service, p.consumer, p.consumer_group) == (None, None, None)
    ]
    functions = {p.config["function_name"] for p in route_only if p.name == "aws-lambda"}
    brokers = {
        f"{broker['host']}:{broker['port']}"
        for p in route_only
        if p.name == "kafka-upstream"
        for broker in p.config["bootstrap_servers"]
    }
    return dict(by_name), len(functions), len(brokers)


#: Kong's tier of each plugin the sample seed uses (Kong OSS bundles the "free" ones).
SAMPLE_TIERS = {
    "free": ("aws-lambda", "cors", "key-auth"),
    "enterprise": ("kafka-upstream", "openid-connect", "rate-limiting-advanced"),
    "custom": ("x-custom-header",),
}


def tiers(by_name: dict[str, int]) -> dict[str, dict[str, int]]:
    """``plugins_count.tiers`` for plugins named in ``SAMPLE_TIERS``."""
    return {
        tier: {name: count for name, count in sorted(by_name.items()) if name in names}
        for tier, names in SAMPLE_TIERS.items()
    }
