"""Where counters come from in each Kong mode, and that nothing is counted twice."""

from __future__ import annotations

import pytest

from license_report.api import errors
from license_report.report import aggregation, models
from tests.helpers.observations import ObservationFactory, inputs


def _counters(collection: models.Collection) -> dict[str, int]:
    return {c.bucket: c.request_count for c in collection.report.counters}


def test_dbless_enterprise_sums_each_bucket_over_nodes(node: ObservationFactory) -> None:
    observations = [
        node("a", counters={"2026-10": 100, "2026-11": 5, "UNKNOWN": 7}),
        node("b", counters={"2026-10": 20, "2026-09": 3}),
        node("c", counters={"2026-11": 1}),
    ]
    result = aggregation.aggregate(inputs(observations))
    assert _counters(result) == {"2026-09": 3, "2026-10": 120, "2026-11": 6, "UNKNOWN": 7}
    assert [c.bucket for c in result.report.counters] == [
        "2026-09",
        "2026-10",
        "2026-11",
        "UNKNOWN",
    ]
    assert result.report.db_version == "off"
    assert result.mode == "dbless"


def test_db_mode_takes_counters_from_the_datastore_only(node: ObservationFactory) -> None:
    # Every DB-mode node shows the same cluster-wide figures: 3 nodes x 1000.
    shared = {"2026-10": 1000, "UNKNOWN": 50}
    observations = [node(n, database="postgres", counters=shared) for n in "abc"]
    figures = models.DatastoreFigures(
        db_version="postgres 18.1",
        counts=models.EntityCounts(services=27, routes=30, consumers=4, workspaces=2, rbac_users=3),
        usage=[
            models.MonthUsage(year=2026, month=10, requests=1000),
            models.MonthUsage(year=0, month=0, requests=50),
        ],
    )
    result = aggregation.aggregate(inputs(observations, datastore=figures))
    assert _counters(result) == {"2026-10": 1000, "UNKNOWN": 50}
    report = result.report
    assert (report.services_count, report.workspaces_count, report.rbac_users) == (27, 2, 3)
    assert report.db_version == "postgres 18.1"
    assert (result.routes_count, result.consumers_count) == (30, 4)


def test_db_mode_without_datastore_never_sums_node_views(node: ObservationFactory) -> None:
    # Node b flushed a moment later: its view is fresher. The result is the
    # freshest view per month, never a sum of views of the same table.
    observations = [
        node("a", database="postgres", counters={"2026-10": 1000, "UNKNOWN": 50}),
        node("b", database="postgres", counters={"2026-10": 1003, "UNKNOWN": 50}),
    ]
    result = aggregation.aggregate(inputs(observations))
    assert _counters(result) == {"2026-10": 1003, "UNKNOWN": 50}
    assert result.mode == "db"
    assert any("not summed" in note for note in result.notes)


def test_oss_has_no_counters_and_says_why(node: ObservationFactory) -> None:
    observations = [node(n, edition="community", version="3.9.1") for n in "ab"]
    counts = models.EntityCounts(services=5, routes=6, consumers=0, workspaces=1, rbac_users=0)
    result = aggregation.aggregate(inputs(observations, listed_counts=counts))
    assert result.report.counters == []
    assert result.report.license_key == "UNLICENSED"
    assert result.report.services_count == 5
    assert any("keeps no license counters" in note for note in result.notes)


def test_months_outside_the_window_are_dropped_unknown_kept(node: ObservationFactory) -> None:
    # The window is 2025-12 .. 2026-11 (12 months ending at NOW).
    observations = [node("a", counters={"2025-11": 9, "2025-12": 1, "2026-12": 4, "UNKNOWN": 2})]
    assert _counters(aggregation.aggregate(inputs(observations))) == {"2025-12": 1, "UNKNOWN": 2}


def test_failures_degrade_and_are_named(node: ObservationFactory) -> None:
    failure = models.Failure(pod="z", reason=errors.Reason.TIMEOUT, message="GET /: no answer")
    result = aggregation.aggregate(inputs([node("a", counters={"2026-11": 1})], failures=[failure]))
    assert result.outcome is models.Outcome.DEGRADED
    assert result.failures == [failure]
    entry = next(n for n in result.nodes if n.pod == "z")
    assert not entry.reachable
    assert entry.error == "Timeout: GET /: no answer"


def test_no_node_reached_is_an_error() -> None:
    with pytest.raises(aggregation.NoNodeReached):
        aggregation.aggregate(inputs([]))


def test_most_common_version_wins_and_skew_is_noted(node: ObservationFactory) -> None:
    observations = [
        node("a", version="3.4.3.12-enterprise-edition"),
        node("b", version="3.4.3.12-enterprise-edition"),
        node("c", version="3.4.3.11-enterprise-edition"),
    ]
    result = aggregation.aggregate(inputs(observations))
    assert result.report.kong_version == "3.4.3.12-enterprise-edition"
    assert any("c (3.4.3.11-enterprise-edition)" in note for note in result.notes)


def test_configuration_drift_is_noted(node: ObservationFactory) -> None:
    observations = [node("a"), node("b"), node("c", configuration_hash="b" * 32)]
    result = aggregation.aggregate(inputs(observations))
    assert any(note.startswith("Configuration drift: c ") for note in result.notes)


def test_a_note_names_twenty_pods_and_counts_the_rest(node: ObservationFactory) -> None:
    # A fleet-sized skew must not make a note (and the status that carries it) fleet-sized.
    observations = [node(f"new-{i:02}", version="3.4.3.12-enterprise-edition") for i in range(40)]
    observations += [node(f"old-{i:02}", version="3.4.3.11-enterprise-edition") for i in range(25)]
    observations += [node(f"cfg-{i:02}", configuration_hash="b" * 32) for i in range(30)]
    notes = aggregation.aggregate(inputs(observations)).notes
    (skew,) = [note for note in notes if note.startswith("Version skew")]
    assert "old-19 (3.4.3.11-enterprise-edition) and 5 more." in skew
    assert "old-20" not in skew
    (drift,) = [note for note in notes if note.startswith("Configuration drift")]
    assert drift.startswith("Configuration drift: cfg-00, cfg-01,")
    assert "cfg-19 and 10 more serve" in drift


def test_cores_are_summed_over_distinct_hosts(node: ObservationFactory) -> None:
    # a and b share machine m1 (8 cores); c runs on m2 (16 cores).
    observations = [
        node("a", host="m1", host_cores=8),
        node("b", host="m1", host_cores=8),
        node("c", host="m2", host_cores=16),
    ]
    assert aggregation.aggregate(inputs(observations)).report.system_info.cores == 24


def test_cores_fall_back_to_the_nodes_own_report(node: ObservationFactory) -> None:
    observations = [node("a", own_cores=6), node("b", host_cores=2)]
    assert aggregation.aggregate(inputs(observations)).report.system_info.cores == 8


def test_unknown_cores_are_null_not_a_partial_sum(node: ObservationFactory) -> None:
    observations = [node("a", edition="community"), node("b", host_cores=2, edition="community")]
    result = aggregation.aggregate(inputs(observations))
    assert result.report.system_info.cores is None
    assert any("Cores unknown for 1 of 2 hosts" in note for note in result.notes)


def test_license_key_from_nodes_is_hashed(node: ObservationFactory) -> None:
    result = aggregation.aggregate(inputs([node("a", license_key="RAWKEY_a1V41000004wT0OEAU")]))
    assert result.report.license_key not in ("UNLICENSED", "RAWKEY_a1V41000004wT0OEAU")
    assert len(result.report.license_key) == 64
