"""Where counters come from in each Kong mode, and that nothing is counted twice."""

from __future__ import annotations

import pytest

from license_report.api import errors
from license_report.report import aggregation, models
from tests.helpers.observations import ObservationFactory, inputs


def _counters(collection: models.Collection) -> dict[str, int]:
    assert collection.report.counters is not None
    return {c.bucket: c.request_count for c in collection.report.counters}


def test_dbless_nodes_keep_no_counters_and_are_reached_not_failed(
    node: ObservationFactory,
) -> None:
    # Kong's strategy is off with database = off: /license/report has no counters key.
    observations = [node(n, database="off", counters={"2026-10": 100}) for n in "abc"]
    assert all(obs.license_report and obs.license_report.counters is None for obs in observations)
    result = aggregation.aggregate(inputs(observations))
    assert result.report.counters is None
    assert "counters" not in result.report.model_dump(mode="json")
    assert result.outcome is models.Outcome.COMPLETE
    assert result.failures == []
    assert {(n.reachable, n.counters, n.counters_note) for n in result.nodes} == {
        (True, "none", "DB-less: Kong's counter strategy is off")
    }
    (note,) = [n for n in result.notes if n.startswith("No node keeps license counters")]
    assert "DB-less" in note
    assert "a, b, c" in note
    assert result.report.db_version == "off nil"  # a 3.4 fleet
    assert result.mode == "dbless"


def test_dbless_db_version_is_off_from_3_5(node: ObservationFactory) -> None:
    result = aggregation.aggregate(inputs([node("a", database="off", version="3.9.1.0")]))
    assert result.report.db_version == "off"
    # Also in the kong-2.7 shape, when asked for: the fleet's own Kong's spelling.
    forced = aggregation.aggregate(
        inputs([node("a", database="off", version="3.9.1.0")], format="kong-2.7")
    )
    assert forced.format == "kong-2.7"
    assert forced.report.db_version == "off"


def test_db_mode_takes_counters_from_the_datastore_only(node: ObservationFactory) -> None:
    # Every DB-mode node shows the same cluster-wide figures: 3 nodes x 1000.
    shared = {"2026-10": 1000, "UNKNOWN": 50}
    observations = [node(n, database="postgres", counters=shared) for n in "abc"]
    figures = models.DatastoreFigures(
        db_version="postgres 18.1",
        counts=models.EntityCounts(services=27, routes=30, consumers=4, workspaces=2, rbac_users=3),
        counters=models.EntityCounters(services=27, routes=30, consumers=4, rbac_users=3),
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
    observations = [node(n, enterprise=False, version="3.9.1") for n in "ab"]
    counts = models.EntityCounts(services=5, routes=6, consumers=0, workspaces=1, rbac_users=0)
    result = aggregation.aggregate(inputs(observations, listed_counts=counts))
    assert result.report.counters is None
    assert result.edition == "community"
    assert result.report.license_key == "UNLICENSED"
    assert result.report.services_count == 5
    assert {n.counters_note for n in result.nodes} == {"Kong OSS"}
    assert any("No node keeps license counters (Kong OSS" in note for note in result.notes)


def test_enterprise_3_4_without_edition_is_enterprise(node: ObservationFactory) -> None:
    # Kong before 3.6 has no `edition` in GET /: DB-less 3.4 Enterprise is known by
    # its 200 from /license/report and its license object, never taken for Kong OSS.
    obs = node("a", database="off", version="3.4.3.12", license_key="KEY-1")
    assert obs.info.edition is None
    result = aggregation.aggregate(inputs([obs]))
    assert result.edition == "enterprise"
    assert result.report.license_key == "KEY-1"
    assert result.nodes[0].edition == "enterprise"
    assert result.nodes[0].counters_note == "DB-less: Kong's counter strategy is off"


def test_enterprise_2_x_is_known_by_its_version_suffix(node: ObservationFactory) -> None:
    obs = node("a", version="2.8.4.1")
    assert obs.info.version == "2.8.4.1-enterprise-edition"
    bare = obs.info.model_copy(update={"license": None})
    result = aggregation.aggregate(
        inputs([aggregation.NodeObservation(obs.target, bare, obs.status, None)])
    )
    assert result.edition == "enterprise"
    assert result.report.kong_version == "2.8.4.1-enterprise-edition"


def test_hybrid_control_plane_with_datastore_names_nodes_not_counted(
    node: ObservationFactory,
) -> None:
    # 3.6+: a control plane with cluster_telemetry_endpoint NONE picks the off strategy
    # (no counters key) although license_data holds its data planes' earlier rows.
    cp = node("cp", role="control_plane", telemetry="NONE", version="3.6.1.0")
    traditional = node("t", version="3.6.1.0", counters={"2026-11": 9})
    figures = models.DatastoreFigures(
        db_version="postgres 16.4",
        counts=models.EntityCounts(services=1, routes=1, consumers=1, workspaces=1, rbac_users=0),
        counters=models.EntityCounters(services=1, routes=1, consumers=1, rbac_users=0),
        usage=[models.MonthUsage(year=2026, month=11, requests=40)],
    )
    result = aggregation.aggregate(inputs([cp, traditional], datastore=figures))
    assert _counters(result) == {"2026-11": 40}
    (note,) = [n for n in result.notes if n.startswith("Counters are the datastore's")]
    assert "cluster_telemetry_endpoint is NONE" in note
    assert ": cp" in note
    assert {n.counters for n in result.nodes} == {"kept", "none"}


def test_cassandra_fleet_takes_the_datastore_totals_from_one_nodes_report(
    node: ObservationFactory,
) -> None:
    counts = {"rbac_users": 2, "services_count": 7, "workspaces_count": 3}
    observations = [
        node(n, database="cassandra", version="2.8.4.1", counters={"2026-10": 70},
             counts=counts, db_version="cassandra 3.11")
        for n in "ba"
    ]  # fmt: skip
    listed = models.EntityCounts(services=99, routes=9, consumers=9, workspaces=9, rbac_users=0)
    result = aggregation.aggregate(inputs(observations, listed_counts=listed))
    assert _counters(result) == {"2026-10": 70}
    report = result.report
    assert (report.services_count, report.rbac_users, report.workspaces_count) == (7, 2, 3)
    assert report.db_version == "cassandra 3.11"
    assert any(n.startswith("Cassandra datastore (not read directly)") and "a's own" in n
               for n in result.notes)  # fmt: skip


def test_months_before_the_window_are_dropped_later_and_unknown_kept(
    node: ObservationFactory,
) -> None:
    # A 3.5 fleet: the window is 2025-12 on (12 months ending at NOW), no upper bound.
    counters = {"2025-11": 9, "2025-12": 1, "2026-12": 4, "UNKNOWN": 2}
    observations = [node("a", version="3.5.0.0", counters=counters)]
    result = aggregation.aggregate(inputs(observations))
    assert _counters(result) == {"2025-12": 1, "2026-12": 4, "UNKNOWN": 2}


def test_failures_degrade_and_are_named(node: ObservationFactory) -> None:
    failure = models.Failure(pod="z", reason=errors.Reason.TIMEOUT, message="GET /: no answer")
    result = aggregation.aggregate(
        inputs([node("a", counters={"2026-11": 1})], failures=[failure], hash_names=False)
    )
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
        node("a", version="3.4.3.12"),
        node("b", version="3.4.3.12"),
        node("c", version="3.4.3.11"),
    ]
    result = aggregation.aggregate(inputs(observations))
    assert result.report.kong_version == "3.4.3.12"
    assert any("c (3.4.3.11)" in note for note in result.notes)


def test_configuration_drift_is_noted(node: ObservationFactory) -> None:
    observations = [
        node("a", database="off"),
        node("b", database="off"),
        node("c", database="off", configuration_hash="b" * 32),
    ]
    result = aggregation.aggregate(inputs(observations))
    assert any(note.startswith("Configuration drift: c ") for note in result.notes)


def test_a_note_names_twenty_pods_and_counts_the_rest(node: ObservationFactory) -> None:
    # A fleet-sized skew must not make a note (and the status that carries it) fleet-sized.
    observations = [node(f"new-{i:02}", database="off", version="3.4.3.12") for i in range(40)]
    observations += [node(f"old-{i:02}", database="off", version="3.4.3.11") for i in range(25)]
    observations += [
        node(f"cfg-{i:02}", database="off", configuration_hash="b" * 32) for i in range(30)
    ]
    notes = aggregation.aggregate(inputs(observations)).notes
    (skew,) = [note for note in notes if note.startswith("Version skew")]
    assert "old-19 (3.4.3.11) and 5 more." in skew
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
    observations = [node("a", enterprise=False), node("b", host_cores=2, enterprise=False)]
    result = aggregation.aggregate(inputs(observations))
    assert result.report.system_info.cores is None
    assert any("Cores unknown for 1 of 2 hosts" in note for note in result.notes)


def test_license_key_is_written_as_kong_writes_it(node: ObservationFactory) -> None:
    # Kong matches the report to the customer by the payload's license_key, as is.
    result = aggregation.aggregate(inputs([node("a", license_key="RAWKEY_a1V41000004wT0OEAU")]))
    assert result.report.license_key == "RAWKEY_a1V41000004wT0OEAU"


def test_unlicensed_nodes_report_unlicensed(node: ObservationFactory) -> None:
    result = aggregation.aggregate(inputs([node("a")]))
    assert result.report.license_key == "UNLICENSED"


def test_system_info_has_no_hostname(node: ObservationFactory) -> None:
    report = aggregation.aggregate(inputs([node("a")])).report.model_dump(mode="json")
    assert report["system_info"] == {"cores": 4, "uname": "Linux x86_64"}


def test_nodes_json_hashes_pod_and_host_names_unless_told_not_to(
    node: ObservationFactory,
) -> None:
    observations = [node("gw-0", host="worker-1")]
    failure = models.Failure(pod="gw-1", reason=errors.Reason.TIMEOUT, message="GET /: late")
    hashed = aggregation.aggregate(inputs(observations, failures=[failure]))
    text = repr([entry.model_dump() for entry in hashed.nodes])
    for name in ("gw-0", "gw-1", "worker-1", "gw-0-hostname"):
        assert name not in text
    assert [f.pod for f in hashed.failures] == ["gw-1"]  # the status names pods in clear
    clear = aggregation.aggregate(inputs(observations, failures=[failure], hash_names=False))
    assert [(n.pod, n.host, n.hostname) for n in clear.nodes] == [
        ("gw-0", "worker-1", "gw-0-hostname"),
        ("gw-1", None, None),
    ]


def test_hybrid_data_planes_are_named_in_nodes_json_not_failed(node: ObservationFactory) -> None:
    cp = node("cp", role="control_plane", version="3.5.0.0", counters={"2026-11": 5})
    planes = [
        models.DataPlanePod(pod="dp-0", telemetry=True),
        models.DataPlanePod(pod="dp-1", telemetry=False),
    ]
    result = aggregation.aggregate(inputs([cp], data_planes=planes, hash_names=False))
    assert result.outcome is models.Outcome.COMPLETE
    assert result.failures == []
    by_pod = {n.pod: (n.reachable, n.counters, n.counters_note) for n in result.nodes}
    assert by_pod["dp-0"] == (False, "none", aggregation.DATA_PLANE_TELEMETRY_NOTE)
    assert by_pod["dp-1"] == (False, "none", "data plane without telemetry")
    (note,) = [n for n in result.notes if n.startswith("These nodes keep no counters")]
    assert "data plane without telemetry: dp-1" in note
    assert "dp-0" not in note
