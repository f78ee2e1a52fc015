"""The ledger's ConfigMaps against the emulated API server: conflicts, refusals, lost writes,
two writers, an unreadable document; every figure compared with the true count."""

from __future__ import annotations

import asyncio
import datetime
import json

import kmock
import pytest

from license_report.reconcile import kube
from license_report.reconcile import ledger as stored
from license_report.report import ledger, window
from license_report_sandbox import kubeapi
from tests.helpers.ledgers import refusal, writing_ledgers

NAMESPACE = "kong"  # the one namespace the api fixture of this area's conftest holds
FLEET = "0123456789ab"
SINCE = datetime.datetime(2025, 1, 10, tzinfo=datetime.UTC)
BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
#: Every month these tests write in (2023-01 to 2025-12).
EVERY_MONTH = ledger.months_back(now=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC), count=36)
SPAN = window.Window.ending(now=datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC), months=24)


def sample(counter: int, when: str, *, uid: str = "uid-a") -> ledger.Sample:
    return ledger.Sample(
        uid=uid, pod=f"kong-{uid}", namespace=NAMESPACE, source="prometheus", counter=counter,
        at=datetime.datetime.fromisoformat(when).replace(tzinfo=datetime.UTC),
        started=BEFORE, pod_started=BEFORE,
    )  # fmt: skip


async def record(clients: kube.Clients, *samples: ledger.Sample) -> stored.Recorded:
    return await stored.record(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, samples=samples, since=SINCE
    )


async def totals(clients: kube.Clients) -> dict[str, int]:
    documents = await stored.read(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, months=EVERY_MONTH
    )
    return ledger.usage([one.document for one in documents], span=SPAN).buckets


async def test_documents_are_labelled_with_the_fleet_and_month_and_owned_by_nobody(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    done = await record(
        clients, sample(100, "2025-01-12T00:00:00"), sample(7, "2025-01-12T00:00:00", uid="uid-b")
    )
    assert (done.writes, done.conflicts, done.counted) == (1, 0, 107)
    name = "license-report-ledger-0123456789ab-2025-01-0"
    body = api.get("v1", "ConfigMap", name, NAMESPACE)
    assert body is not None
    assert body["metadata"]["labels"] == {
        "licensereport.io/ledger": FLEET,
        "licensereport.io/ledger-month": "2025-01",
        "app.kubernetes.io/managed-by": "license-report-operator",
    }
    assert "ownerReferences" not in body["metadata"]
    assert sorted(json.loads(body["data"]["ledger.json"])["pods"]) == ["uid-a", "uid-b"]
    # Another fleet's ledger in the same namespace is not read.
    other = ledger.Document(fleet="ffffffffffff", month="2025-01", shard=0, since=SINCE, pods={})
    api.put(stored.config_map(other, namespace=NAMESPACE))
    (one,) = await stored.read(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, months=EVERY_MONTH
    )
    assert one.document.name == name
    assert await totals(clients) == {"UNKNOWN": 107}


async def test_a_round_with_no_sample_reads_and_writes_nothing(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    """Every pod of a round failed (or a terminating pod could not be read): the ledger is
    left as it is, and the caller writes the failures."""
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    before = await totals(clients)
    done = await record(clients)
    assert (done.writes, done.counted, done.since) == (0, 0, None)
    assert await totals(clients) == before


async def test_a_concurrent_writer_is_a_conflict_and_nothing_counts_twice(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    interfered: list[stored.Recorded] = []
    first = True

    async def another_writer_first(request: kmock.Request) -> kmock.Payload:
        nonlocal first
        if first:
            first = False  # the other writer's own write goes straight through
            # The termination sampler, say, writes its own sample of the pod meanwhile.
            interfered.append(await record(clients, sample(160, "2025-01-12T00:01:30")))
        return await api.emulator.answer(request)

    api.emulator[writing_ledgers] << another_writer_first
    done = await record(clients, sample(220, "2025-01-12T00:02:00"))
    assert (done.conflicts, done.writes, done.counted) == (1, 1, 60)
    assert (interfered[0].conflicts, interfered[0].counted) == (0, 60)
    # The true count: 220 - 100, split between the two writers.
    assert await totals(clients) == {"2025-01": 120, "UNKNOWN": 100}


async def test_two_writers_on_the_same_fleet_count_nothing_twice(clients: kube.Clients) -> None:
    await record(
        clients, sample(100, "2025-01-12T00:00:00"), sample(10, "2025-01-12T00:00:00", uid="uid-b")
    )
    # Two requests on the same fleet sample it at about the same times and write at once.
    rounds = [
        [
            sample(100 + 50 * n, f"2025-01-12T00:0{n}:00"),
            sample(10 + n, f"2025-01-12T00:0{n}:05", uid="uid-b"),
        ]
        for n in range(1, 6)
    ]
    writers = [record(clients, *batch) for batch in rounds for _ in range(2)]
    await asyncio.gather(*writers)
    # Whatever the order: the latest counters less the first, once.
    assert await totals(clients) == {"2025-01": 250 + 5, "UNKNOWN": 110}


async def test_an_api_error_while_writing_is_transient_and_the_next_sample_loses_nothing(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    api.emulator[writing_ledgers] << refusal(500)
    with pytest.raises(kube.ApiError) as failed:
        await record(clients, sample(160, "2025-01-12T00:01:00"))
    assert (failed.value.status, failed.value.transient) == (500, True)
    assert await totals(clients) == {"UNKNOWN": 100}  # the ledger as it was


async def test_a_dropped_write_is_covered_by_the_next_sample(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    dropped: list[str] = []

    async def drop_once(request: kmock.Request) -> kmock.Payload:
        if not dropped:
            # As if the operator were killed between sampling and writing.
            dropped.append(request.name or "")
            raise refusal(504)
        return await api.emulator.answer(request)

    api.emulator[writing_ledgers] << drop_once
    with pytest.raises(kube.ApiError):
        await record(clients, sample(160, "2025-01-12T00:01:00"))
    assert await totals(clients) == {"UNKNOWN": 100}
    await record(clients, sample(220, "2025-01-12T00:02:00"))
    assert await totals(clients) == {"2025-01": 120, "UNKNOWN": 100}


async def test_a_write_that_got_through_unacknowledged_is_not_counted_twice_on_retry(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    lost_answers: list[str] = []

    async def store_then_fail(request: kmock.Request) -> kmock.Payload:
        answer = await api.emulator.answer(request)
        if not lost_answers:
            lost_answers.append(request.name or "")
            raise refusal(504)  # the write is stored; the answer never arrives
        return answer

    api.emulator[writing_ledgers] << store_then_fail
    retried = sample(160, "2025-01-12T00:01:00")
    with pytest.raises(kube.ApiError):
        await record(clients, retried)
    again = await record(clients, retried)  # the caller tries the same samples again
    assert (again.writes, again.stale, again.counted) == (0, 1, 0)
    assert await totals(clients) == {"2025-01": 60, "UNKNOWN": 100}


async def test_conflicts_without_end_are_raised_as_a_transient_conflict(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    api.emulator[writing_ledgers] << refusal(409)
    with pytest.raises(kube.Conflict, match="kept changing") as failed:
        await record(clients, sample(160, "2025-01-12T00:01:00"))
    assert failed.value.transient
    puts = [r for r in api.requests if r.method == "PUT" and "configmaps" in r.path]
    assert len(puts) == stored.ATTEMPTS


async def test_a_ledger_json_that_does_not_parse_is_named_and_never_overwritten(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    await record(clients, sample(100, "2025-01-12T00:00:00"))
    name = "license-report-ledger-0123456789ab-2025-01-0"
    body = api.get("v1", "ConfigMap", name, NAMESPACE)
    assert body is not None
    body["data"]["ledger.json"] = body["data"]["ledger.json"][:-20]  # cut short
    api.put(body)
    version = api.get("v1", "ConfigMap", name, NAMESPACE)
    with pytest.raises(stored.LedgerUnreadable, match=f"ConfigMap kong/{name}, key ledger.json"):
        await record(clients, sample(160, "2025-01-12T00:01:00"))
    assert api.get("v1", "ConfigMap", name, NAMESPACE) == version
    # Nor when it parses but is not what its name says (a document copied by hand).
    body["data"]["ledger.json"] = (
        ledger.Document(fleet=FLEET, month="2024-12", shard=0, since=SINCE, pods={})
        .dumps()
        .decode()
    )
    api.put(body)
    with pytest.raises(stored.LedgerUnreadable, match="not what its name says"):
        await record(clients, sample(160, "2025-01-12T00:01:00"))


async def test_a_month_too_large_for_one_config_map_is_written_in_shards(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    async def shards() -> list[stored.Stored]:
        return await stored.read(
            clients=clients, namespace=NAMESPACE, fleet_key=FLEET, months=["2025-01"]
        )

    pods = [sample(10, "2025-01-12T00:00:00", uid=f"uid-{n:03d}") for n in range(60)]
    await stored.record(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, samples=pods, since=SINCE,
        budget=5_000,
    )  # fmt: skip
    first = await shards()
    assert len(first) >= 3
    assert [one.document.shard for one in first] == list(range(len(first)))
    assert all(len(one.document.dumps()) <= 5_000 for one in first)
    later = [sample(25, "2025-01-12T00:01:00", uid=f"uid-{n:03d}") for n in range(60)]
    await stored.record(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, samples=later, since=SINCE,
        budget=5_000,
    )  # fmt: skip
    # Each pod stays in its shard (which may grow past the budget by its entries' growth:
    # the budget is what a new pod may not pass, below the API server's 1 MiB).
    second = await shards()
    assert [sorted(one.document.pods) for one in second] == [
        sorted(one.document.pods) for one in first
    ]
    assert await totals(clients) == {"2025-01": 60 * 15, "UNKNOWN": 60 * 10}


async def test_trim_deletes_the_months_past_retention_and_nothing_else(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    for when in ("2023-02-15T00:00:00", "2023-03-15T00:00:00", "2025-03-01T00:00:00"):
        await record(clients, sample(1, when, uid=when))
    other = ledger.Document(fleet="ffffffffffff", month="2020-01", shard=0, since=SINCE, pods={})
    api.put(stored.config_map(other, namespace=NAMESPACE))
    deleted = await stored.trim(
        clients=clients,
        namespace=NAMESPACE,
        fleet_key=FLEET,
        now=datetime.datetime(2025, 3, 15, tzinfo=datetime.UTC),
    )
    # 25 months: March 2023 to March 2025.
    assert deleted == ["license-report-ledger-0123456789ab-2023-02-0"]
    left = await stored.read(
        clients=clients, namespace=NAMESPACE, fleet_key=FLEET, months=EVERY_MONTH
    )
    assert [one.document.month for one in left] == ["2023-03", "2025-03"]
    assert api.get("v1", "ConfigMap", other.name, NAMESPACE) is not None


async def test_a_round_reads_the_shards_of_pods_long_gone_no_more(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    # Churn: 60 pods came and went this month (three shards and more); the 5 live now came
    # last, so they are in the newest shard.
    counts: dict[str, int] = {}

    async def sampled(*samples: ledger.Sample) -> None:
        await stored.record(
            clients=clients, namespace=NAMESPACE, fleet_key=FLEET, samples=samples,
            since=SINCE, budget=5_000, counts=counts,
        )  # fmt: skip

    await sampled(*(sample(10, "2025-01-12T00:00:00", uid=f"gone-{n:03d}") for n in range(60)))
    await sampled(*(sample(10, "2025-01-12T00:01:00", uid=f"live-{n}") for n in range(5)))
    newest = counts[f"{FLEET}/2025-01"] - 1
    assert newest >= 3
    first = ledger.document_name(fleet=FLEET, month="2025-01", shard=0)

    def reads_of_older_shards() -> int:
        return sum(
            1
            for r in api.requests
            if r.method == "GET"
            and r.path.endswith("/configmaps/" + first)  # shard 0: only gone pods
        )

    before = reads_of_older_shards()
    await sampled(*(sample(20, "2025-01-12T00:02:00", uid=f"live-{n}") for n in range(5)))
    assert reads_of_older_shards() == before
    # Every pod still counted once; the new samples' deltas in place.
    assert await totals(clients) == {"UNKNOWN": 65 * 10, "2025-01": 5 * 10}
    # A pod not in the newest shard (one of the gone, back) makes a round read older ones.
    await sampled(sample(30, "2025-01-12T00:03:00", uid="gone-000"))
    assert reads_of_older_shards() > before
    assert await totals(clients) == {"UNKNOWN": 65 * 10, "2025-01": 5 * 10 + 20}


async def test_a_pod_not_sampled_for_months_is_counted_from_its_last_counter_not_again(
    clients: kube.Clients,
) -> None:
    # Sampled in January, then the operator was down through February and March.
    await record(
        clients, sample(100, "2025-01-12T00:00:00"), sample(5, "2025-01-12T00:00:00", uid="b")
    )
    await record(clients, sample(160, "2025-01-20T00:00:00"))
    await record(clients, sample(400, "2025-04-02T00:00:00"))
    # Only what it served since January's last sample, in the month it was seen.
    assert await totals(clients) == {"UNKNOWN": 105, "2025-01": 60, "2025-04": 240}
