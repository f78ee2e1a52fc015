"""Where a metered fleet's counters come from: the ledger where Kong keeps none, Kong's own
with a cross-check note where it keeps them and ``spec.metering.enabled`` asks to meter."""

from __future__ import annotations

import datetime

from license_report.report import aggregation, ledger, models, packaging, window
from tests.helpers.observations import NOW, ObservationFactory, inputs

SINCE = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
FLEET = "0123456789ab"


def _metered(counts: dict[str, list[tuple[str, int]]]) -> aggregation.Metered:
    """The ledger's figures for pods sampled at the given times and counters (prometheus),
    every pod started when metering began: made by the ledger's own code, from samples."""
    samples = [
        ledger.Sample(
            uid=f"uid-{pod}", pod=pod, namespace="kong", source="prometheus", counter=counter,
            at=datetime.datetime.fromisoformat(at), started=SINCE, pod_started=SINCE,
        )
        for pod, readings in counts.items()
        for at, counter in readings
    ]  # fmt: skip
    changes = ledger.apply([], samples, fleet=FLEET, since=SINCE)
    span = window.Window.ending(now=NOW, months=24)
    return aggregation.Metered(
        usage=ledger.usage(changes.documents, span=span), interval_seconds=60, ledger=FLEET
    )


def _counters(collection: models.Collection) -> dict[str, int]:
    assert collection.report.counters is not None
    return {c.bucket: c.request_count for c in collection.report.counters}


METERED = {
    "a": [("2026-10-01T00:00:00+00:00", 0), ("2026-10-31T23:59:00+00:00", 600)],
    "b": [("2026-10-01T00:00:00+00:00", 0), ("2026-11-01T00:01:00+00:00", 390)],
}


def test_db_mode_with_metering_enabled_keeps_kongs_counters_and_compares(
    node: ObservationFactory,
) -> None:
    shared = {"2026-10": 1000, "UNKNOWN": 50}
    observations = [node(n, database="postgres", counters=shared) for n in "ab"]
    figures = models.DatastoreFigures(
        db_version="postgres 18.1",
        counts=models.EntityCounts(services=1, routes=1, consumers=0, workspaces=1, rbac_users=0),
        usage=[
            models.MonthUsage(year=2026, month=10, requests=1000),
            models.MonthUsage(year=0, month=0, requests=50),
        ],
    )
    metered = _metered(METERED)
    result = aggregation.aggregate(
        inputs(observations, datastore=figures, metered=metered, hash_names=False)
    )
    # Kong's counters, as they are: the metered figures never replace or add to them.
    assert _counters(result) == {"2026-10": 1000, "UNKNOWN": 50}
    (note,) = [n for n in result.notes if n.startswith("Cross-check")]
    # b's interval across November's first instant went to November (observed there).
    assert "2026-10 Kong 1000, metered 600" in note
    assert "2026-11 Kong 0, metered 390" in note
    assert result.metering is not None
    assert result.metering.counters == "kong"
    assert result.metering.months == {"2026-10": 600, "2026-11": 390}
    assert {n.pod: n.metered for n in result.nodes} == {
        "a": {"2026-10": 600},
        "b": {"2026-11": 390},
    }
    files = packaging.package(result)
    assert files.metering_json is not None


def test_db_mode_without_metering_has_no_cross_check(node: ObservationFactory) -> None:
    observations = [node("a", database="postgres", counters={"2026-10": 1000})]
    result = aggregation.aggregate(inputs(observations))
    assert not [n for n in result.notes if n.startswith("Cross-check")]
    assert result.metering is None
    assert packaging.package(result).metering_json is None


def test_dbless_counters_are_the_ledgers(node: ObservationFactory) -> None:
    observations = [node(n, database="off", version="3.9.1.0") for n in "ab"]
    result = aggregation.aggregate(inputs(observations, metered=_metered(METERED)))
    assert _counters(result) == {"2026-10": 600, "2026-11": 390}
    assert result.metering is not None
    assert result.metering.counters == "ledger"
    assert [n for n in result.notes if "metered by the operator since 2026-10-01" in n]
