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
    """What the report must show, worked out from the seed alone: Kong's window rule over
    the seed's ``license_data`` rows, the window ``months`` long and ending at ``now``."""
    rows = [(usage.year, usage.month, usage.requests) for usage in definition.usage]
    return kong_buckets(rows, back=months - 1, now=now)


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


# --- Kong's own rules, version by version (docs/kong-fidelity.md; kong-research.md) -----
#
# Written from Kong's Lua as the research file quotes it, not from the product: a
# report computed here is what that Kong would write, with our documented differences
# (counts always present, cores summed over the fleet's machines).


def kong_release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def months_to_report(version: str) -> int:
    """``MONTHS_TO_REPORT``: 23 in 2.7-3.4, 11 from 3.5 (…/strategies/common.lua)."""
    return 11 if kong_release(version) >= (3, 5) else 23


def kong_buckets(
    rows: list[tuple[int, int, int]], *, back: int, now: datetime.datetime = NOW
) -> dict[str, int]:
    """``get_count_by_month``: rows (year, month, req_cnt) kept by ``should_report_bucket``
    against ``get_year_month(back)``, summed per label."""
    # os.time{year=Y, month=M-back, day=1} normalised, as C mktime does.
    index = now.year * 12 + (now.month - 1) - back
    min_year, min_month = index // 12, index % 12 + 1
    totals: dict[str, int] = collections.defaultdict(int)
    for year, month, count in rows:
        kept = year > min_year or (year == min_year and month >= min_month) or year == 0
        if kept:
            label = "UNKNOWN" if year == 0 or month == 0 else f"{year:04d}-{month:02d}"
            totals[label] += count
    return dict(totals)


def kong_version_string(version: str) -> str:
    """``kong.version``: 2.x Enterprise carries ``-enterprise-edition``, 3.x does not."""
    return version + "-enterprise-edition" if kong_release(version) < (3, 0) else version


def kong_db_version(version: str, *, server_version_num: int | None) -> str:
    """``db_version``: "postgres X.Y" (X.Y.Z before 10); without a database "off" from 3.5,
    "off nil" before (``tostring(nil)``)."""
    if server_version_num is None:
        return "off" if kong_release(version) >= (3, 5) else "off nil"
    major = server_version_num // 10000
    if major < 10:
        minor, patch = server_version_num // 100 % 100, server_version_num % 100
        return f"postgres {major}.{minor}.{patch}"
    return f"postgres {major}.{server_version_num % 100}"


def kong_entity_counts(
    version: str,
    *,
    counter_rows: list[tuple[str, int]],
    service_rows: int,
    route_rows: int,
    consumer_types: list[int],
    rbac_user_rows: int,
) -> dict[str, int]:
    """services, routes, consumers, rbac_users as that Kong reports them: sums of
    workspace_entity_counters before 3.9 (0 for a type with no row: our deliberate
    difference, Kong 2.8-3.8 leave the key out); COUNT(*) from 3.9, consumers of type 0."""
    if kong_release(version) >= (3, 9):
        return {
            "services": service_rows,
            "routes": route_rows,
            "consumers": sum(1 for kind in consumer_types if kind == 0),
            "rbac_users": rbac_user_rows,
        }
    sums: dict[str, int] = collections.defaultdict(int)
    for kind, count in counter_rows:
        sums[kind] += count
    return {kind: sums[kind] for kind in ("services", "routes", "consumers", "rbac_users")}
