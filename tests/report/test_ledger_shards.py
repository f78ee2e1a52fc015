"""The ledger's documents: shards under a byte budget, usage over months, retention."""

from __future__ import annotations

import datetime

from license_report.report import ledger, window

FLEET = "0123456789ab"
SINCE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
START = datetime.datetime(2025, 1, 5, tzinfo=datetime.UTC)


def sample(uid: str, counter: int, when: datetime.datetime) -> ledger.Sample:
    return ledger.Sample(
        uid=uid, pod=f"kong-{uid}", namespace="kong", node_id=None, source="prometheus",
        counter=counter, at=when, started=START, pod_started=START,
    )  # fmt: skip


def round_of(pods: int, *, counter: int, when: datetime.datetime) -> list[ledger.Sample]:
    return [sample(f"uid-{number:03d}", counter, when) for number in range(pods)]


def test_a_month_is_sharded_below_the_budget_and_pods_stay_in_their_shard() -> None:
    first = datetime.datetime(2025, 1, 6, tzinfo=datetime.UTC)
    one = ledger.apply([], round_of(1, counter=10, when=first), fleet=FLEET, since=SINCE)
    empty = ledger.Document(fleet=FLEET, month="2025-01", shard=0, since=SINCE, pods={})
    entry = len(one.documents[0].dumps()) - len(empty.dumps())
    # Room for three pods and a half a document: 10 pods take 4 shards (3, 3, 3, 1).
    budget = len(empty.dumps()) + entry * 3 + entry // 2
    changes = ledger.apply([], round_of(10, counter=10, when=first), fleet=FLEET, since=SINCE)
    shards = {document.shard: document for document in changes.documents}
    assert sorted(shards) == list(range(len(shards)))
    assert len(shards) == 1  # the default budget holds them all
    changes = ledger.apply(
        [], round_of(10, counter=10, when=first), fleet=FLEET, since=SINCE, budget=budget
    )
    shards = {document.shard: document for document in changes.documents}
    assert sorted(shards) == [0, 1, 2, 3]
    assert all(len(document.dumps()) <= budget for document in changes.documents)
    placed = {uid: document.shard for document in changes.documents for uid in document.pods}
    assert len(placed) == 10
    # The next round: each pod's delta and last go to the shard already holding it.
    later = ledger.apply(
        changes.documents,
        round_of(10, counter=25, when=first + datetime.timedelta(minutes=1)),
        fleet=FLEET,
        since=SINCE,
        budget=budget,
    )
    assert {uid: document.shard for document in later.documents for uid in document.pods} == (
        placed
    )
    assert later.counted == 10 * 15
    # A new pod goes to the last shard while it has room, then to a new one.
    state = {document.name: document for document in (*changes.documents, *later.documents)}
    newcomers = [
        sample(f"new-{number}", 1, first + datetime.timedelta(minutes=2)) for number in range(4)
    ]
    grown = ledger.apply(list(state.values()), newcomers, fleet=FLEET, since=SINCE, budget=budget)
    new_shards = {
        uid: document.shard
        for document in grown.documents
        for uid in document.pods
        if uid.startswith("new-")
    }
    assert min(new_shards.values()) == 3
    assert max(new_shards.values()) == 4
    assert all(len(document.dumps()) <= budget for document in grown.documents)
    state.update({document.name: document for document in grown.documents})
    usage = ledger.usage(
        state.values(),
        span=window.Window.ending(now=first, months=12),
    )
    assert usage.buckets == {"2025-01": 10 * 25 + 4}
    assert usage.pods_metered == 14


def test_usage_merges_a_pod_over_months_and_keeps_the_window() -> None:
    documents: dict[str, ledger.Document] = {}
    moments = [
        datetime.datetime(2025, 1, 31, 23, 59, tzinfo=datetime.UTC),
        datetime.datetime(2025, 2, 1, 0, 1, tzinfo=datetime.UTC),
    ]
    for counter, when in zip((100, 130), moments, strict=True):
        changes = ledger.apply(
            list(documents.values()), [sample("uid-a", counter, when)], fleet=FLEET, since=SINCE
        )
        documents.update({document.name: document for document in changes.documents})
    assert sorted(documents) == [
        "license-report-ledger-0123456789ab-2025-01-0",
        "license-report-ledger-0123456789ab-2025-02-0",
    ]
    both = ledger.usage(
        documents.values(),
        span=window.Window.ending(
            now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), months=24
        ),
    )
    (pod,) = both.pods
    assert pod.buckets == {"2025-01": 100, "2025-02": 30}
    assert both.since == SINCE
    assert not both.estimated
    # A 12-month window ending in January 2026 no longer holds January 2025.
    later = ledger.usage(
        documents.values(),
        span=window.Window.ending(
            now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), months=12
        ),
    )
    assert later.buckets == {"2025-02": 30}
    assert later.pods_metered == 1


def test_usage_of_no_documents_is_empty() -> None:
    empty = ledger.usage([], span=window.Window.ending(now=SINCE, months=12))
    assert (empty.buckets, empty.pods, empty.since, empty.estimated) == ({}, (), None, False)


def test_trim_keeps_the_retention_in_months_the_current_one_included() -> None:
    now = datetime.datetime(2025, 3, 15, tzinfo=datetime.UTC)
    documents = [
        ledger.Document(fleet=FLEET, month=month, shard=0, since=SINCE, pods={})
        for month in ("2023-01", "2023-02", "2023-03", "2025-03")
    ]
    assert ledger.trim(documents, now=now) == [
        "license-report-ledger-0123456789ab-2023-01-0",
        "license-report-ledger-0123456789ab-2023-02-0",
    ]
    assert ledger.trim(documents, now=now, retention_months=1) == [
        "license-report-ledger-0123456789ab-2023-01-0",
        "license-report-ledger-0123456789ab-2023-02-0",
        "license-report-ledger-0123456789ab-2023-03-0",
    ]


def test_a_document_reads_back_as_written() -> None:
    changes = ledger.apply(
        [], [sample("uid-a", 5, START + datetime.timedelta(days=1))], fleet=FLEET, since=SINCE
    )
    (document,) = changes.documents
    assert ledger.Document.model_validate_json(document.dumps()) == document
