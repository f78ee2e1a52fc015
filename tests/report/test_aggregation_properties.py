"""Properties of aggregation over arbitrary fleets (hypothesis)."""

from __future__ import annotations

import collections

from hypothesis import given
from hypothesis import strategies as st

from license_report.report import aggregation
from tests.helpers.observations import inputs, observation

# Months inside the 24-month window ending at NOW (2026-11), and UNKNOWN.
BUCKETS = [f"2026-{m:02d}" for m in range(1, 12)] + ["2025-12", "UNKNOWN"]
fleets = st.lists(
    st.dictionaries(
        st.sampled_from(BUCKETS), st.integers(min_value=0, max_value=10**12), max_size=6
    ),
    min_size=1,
    max_size=8,
)


@given(fleets, st.lists(st.booleans(), min_size=8, max_size=8))
def test_dbless_nodes_never_add_to_the_counters(
    counters: list[dict[str, int]], dbless: list[bool]
) -> None:
    # DB-less nodes keep nothing (Kong's off strategy); the others are views of one table.
    observations = [
        observation(f"n{i}", database="off" if dbless[i] else "postgres", counters=c)
        for i, c in enumerate(counters)
    ]
    result = aggregation.aggregate(inputs(observations))
    views = [c for i, c in enumerate(counters) if not dbless[i]]
    if not views:
        assert result.report.counters is None
        return
    expected: dict[str, int] = collections.defaultdict(int)
    for view in views:
        for bucket, count in view.items():
            expected[bucket] = max(expected[bucket], count)
    assert result.report.counters is not None
    assert {c.bucket: c.request_count for c in result.report.counters} == expected


@given(fleets)
def test_db_mode_node_views_never_add_up(counters: list[dict[str, int]]) -> None:
    observations = [
        observation(f"n{i}", database="postgres", counters=c) for i, c in enumerate(counters)
    ]
    result = aggregation.aggregate(inputs(observations))
    for counter in result.report.counters or []:
        views = [c[counter.bucket] for c in counters if counter.bucket in c]
        assert counter.request_count == max(views)


@given(fleets, st.permutations(range(8)))
def test_the_order_nodes_answer_in_does_not_matter(
    counters: list[dict[str, int]], order: list[int]
) -> None:
    observations = [observation(f"n{i}", counters=c) for i, c in enumerate(counters)]
    shuffled = [observations[i] for i in order if i < len(observations)]
    assert aggregation.aggregate(inputs(observations)) == aggregation.aggregate(inputs(shuffled))
