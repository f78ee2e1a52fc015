"""The ledger turns samples into per-month deltas: numbers worked by hand, case by case."""

from __future__ import annotations

import datetime

import pydantic
import pytest

from license_report.api import v1alpha1
from license_report.report import ledger, window

FLEET = "0123456789ab"
SINCE = datetime.datetime(2025, 1, 10, tzinfo=datetime.UTC)
BEFORE = datetime.datetime(2025, 1, 1, 8, tzinfo=datetime.UTC)  # a pod start before SINCE
SPAN = window.Window.ending(now=datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC), months=24)


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


def sample(
    counter: int,
    when: str,
    *,
    uid: str = "uid-a",
    source: ledger.Source = "prometheus",
    probes: int = 0,
    restarts: int = 0,
    started: datetime.datetime | None = BEFORE,
    pod_started: datetime.datetime | None = BEFORE,
) -> ledger.Sample:
    return ledger.Sample(
        uid=uid,
        pod=f"kong-{uid}",
        namespace="kong",
        source=source,
        counter=counter,
        at=at(when),
        probes=probes,
        restarts=restarts,
        started=started,
        pod_started=pod_started,
    )


def run(samples: list[ledger.Sample]) -> list[ledger.Document]:
    """Each sample applied and written on its own, as the sampler does round after round."""
    state: dict[str, ledger.Document] = {}
    for one in samples:
        changes = ledger.apply(list(state.values()), [one], fleet=FLEET, since=SINCE)
        state.update({document.name: document for document in changes.documents})
    return list(state.values())


def totals(documents: list[ledger.Document]) -> dict[str, int]:
    return ledger.usage(documents, span=SPAN).buckets


def test_first_sight_of_a_pod_started_before_metering_began_is_unknown() -> None:
    # 1000 served, of which 120 probes and this sample's own request: 879.
    documents = run([sample(1000, "2025-01-10T00:01:00", source="status", probes=120)])
    assert totals(documents) == {"UNKNOWN": 879}


def test_first_sight_of_a_pod_started_since_goes_to_its_start_month() -> None:
    started = at("2025-01-20T12:00:00")
    first = sample(500, "2025-02-01T00:00:30", started=started, pod_started=started)
    assert totals(run([first])) == {"2025-01": 500}


def test_first_sight_counts_from_the_container_start_not_the_pod_start() -> None:
    # The pod predates metering, but its container restarted since: the counter holds
    # only traffic served after metering began.
    first = sample(70, "2025-02-03T00:00:00", started=at("2025-01-25T00:00:00"), restarts=1)
    assert totals(run([first])) == {"2025-01": 70}


def test_steady_status_samples_take_off_probes_and_our_own_requests() -> None:
    documents = run(
        [
            sample(1000, "2025-01-12T00:00:00", source="status", probes=120),  # UNKNOWN 879
            # 113 more, of which 12 probes and 1 sample: 100.
            sample(1113, "2025-01-12T00:01:00", source="status", probes=132),
            # 5 more, of which 12 probes and 1 sample: -8, clamped to 0.
            sample(1118, "2025-01-12T00:02:00", source="status", probes=144),
        ]
    )
    assert totals(documents) == {"2025-01": 100, "UNKNOWN": 879}
    (pod,) = ledger.usage(documents, span=SPAN).pods
    assert pod.estimated
    assert pod.sources == ("status",)


def test_a_month_boundary_puts_each_delta_in_the_month_it_was_observed() -> None:
    documents = run(
        [
            sample(100, "2025-01-31T23:58:30"),  # UNKNOWN 100
            sample(130, "2025-01-31T23:59:30"),  # January 30
            sample(160, "2025-02-01T00:00:30"),  # February 30, in February's document
            sample(200, "2025-02-01T00:01:30"),  # February 40, against February's last
        ]
    )
    assert totals(documents) == {"2025-01": 30, "2025-02": 70, "UNKNOWN": 100}
    by_month = {document.month: document for document in documents}
    assert by_month["2025-01"].pods["uid-a"].last.counter == 130
    assert by_month["2025-02"].pods["uid-a"].last.counter == 200
    assert by_month["2025-02"].pods["uid-a"].buckets == {"2025-02": 70}


def test_restarts_count_the_new_counter_from_zero() -> None:
    documents = run(
        [
            sample(500, "2025-01-12T00:00:00"),  # UNKNOWN 500
            sample(700, "2025-01-12T00:01:00"),  # 200
            sample(50, "2025-01-12T00:02:00"),  # the counter went down: restarted, 50
            sample(80, "2025-01-12T00:03:00"),  # 30
            # restartCount rose, though the counter did too: a restart, 900.
            sample(900, "2025-01-12T00:04:00", restarts=1),
            # a new container start (a replaced container, same count): 40.
            sample(40, "2025-01-12T00:05:00", restarts=1, started=at("2025-01-12T00:04:30")),
        ]
    )
    assert totals(documents) == {"2025-01": 200 + 50 + 30 + 900 + 40, "UNKNOWN": 500}


def test_a_status_restart_takes_off_the_probes_since_the_restart() -> None:
    documents = run(
        [
            sample(1000, "2025-01-12T00:00:00", source="status", probes=120),  # UNKNOWN 879
            sample(300, "2025-01-12T00:05:00", source="status", probes=24, restarts=1),  # 275
        ]
    )
    assert totals(documents) == {"2025-01": 275, "UNKNOWN": 879}


def test_a_source_switch_neither_counts_the_old_counter_nor_loses_the_new_series() -> None:
    documents = run(
        [
            sample(10_000, "2025-01-12T00:00:00", source="status", probes=1200),  # UNKNOWN 8799
            sample(40, "2025-01-12T00:01:00"),  # the series appeared: 40 since it was absent
            sample(90, "2025-01-12T00:02:00"),  # 50
            sample(12_000, "2025-01-12T00:03:00", source="status", probes=1236),  # re-baseline, 0
            sample(12_100, "2025-01-12T00:04:00", source="status", probes=1248),  # 100 - 13 = 87
        ]
    )
    assert totals(documents) == {"2025-01": 40 + 50 + 87, "UNKNOWN": 8799}
    (pod,) = ledger.usage(documents, span=SPAN).pods
    assert pod.sources == ("prometheus", "status")


def test_samples_no_newer_than_the_ledger_are_skipped_so_nothing_counts_twice() -> None:
    first = [sample(100, "2025-01-12T00:00:00"), sample(150, "2025-01-12T00:01:00")]
    documents = run(first)
    again = ledger.apply(documents, first, fleet=FLEET, since=SINCE)
    assert (again.documents, again.counted, again.stale) == ((), 0, 2)
    # Another writer's older sample arriving late (a lower counter, not a restart).
    late = ledger.apply(documents, [sample(120, "2025-01-12T00:00:30")], fleet=FLEET, since=SINCE)
    assert (late.documents, late.stale) == ((), 1)


def test_a_lost_write_is_covered_by_the_next_sample() -> None:
    kept = run([sample(100, "2025-01-12T00:00:00")])
    # The sample at 00:01 (counter 160) was taken but never written; the next one covers it.
    after = ledger.apply(kept, [sample(220, "2025-01-12T00:02:00")], fleet=FLEET, since=SINCE)
    assert after.counted == 120
    assert totals([*after.documents]) == {"2025-01": 120, "UNKNOWN": 100}


def test_a_batch_may_hold_several_samples_of_one_pod_in_any_order() -> None:
    batch = [sample(300, "2025-01-12T00:02:00"), sample(100, "2025-01-12T00:00:00")]
    changes = ledger.apply([], batch, fleet=FLEET, since=SINCE)
    assert (changes.counted, changes.applied) == (300, 2)


def test_since_is_the_earliest_of_any_document_carried_forward() -> None:
    documents = run([sample(100, "2025-01-12T00:00:00")])
    later = SINCE + datetime.timedelta(days=30)
    changes = ledger.apply(
        documents, [sample(10, "2025-02-12T00:00:00", uid="uid-b")], fleet=FLEET, since=later
    )
    (february,) = changes.documents
    assert february.since == SINCE


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        ledger.Sample(
            uid="u", pod="p", namespace="n", source="status", counter=1,
            at=datetime.datetime(2025, 1, 1),  # naive: the point of the test
        )  # fmt: skip


def test_the_fleet_key_ignores_order_and_tells_fleets_apart() -> None:
    def selector(**fields: object) -> v1alpha1.LabelSelector:
        return v1alpha1.LabelSelector.model_validate(fields)

    one = ledger.fleet_key(
        namespaces=["kong", "kong-dp"],
        selector=selector(
            matchLabels={"a": "1", "b": "2"},
            matchExpressions=[
                {"key": "x", "operator": "In", "values": ["p", "q"]},
                {"key": "y", "operator": "Exists"},
            ],
        ),
    )
    same = ledger.fleet_key(
        namespaces=["kong-dp", "kong"],
        selector=selector(
            matchLabels={"b": "2", "a": "1"},
            matchExpressions=[
                {"key": "y", "operator": "Exists"},
                {"key": "x", "operator": "In", "values": ["q", "p"]},
            ],
        ),
    )
    other = ledger.fleet_key(namespaces=["kong"], selector=selector(matchLabels={"a": "1"}))
    assert one == same
    assert other != one
    assert len(one) == 12
    assert int(one, 16) >= 0
