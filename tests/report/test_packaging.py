"""The files users hand over: report.json in Kong's shape, nodes.json, the tar."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import hypothesis
import pytest
from hypothesis import strategies as st

from license_report.api import errors
from license_report.report import aggregation, models, packaging
from tests.helpers.observations import ObservationFactory, inputs


def test_report_json_has_exactly_kongs_fields(node: ObservationFactory) -> None:
    # 3.1-3.4: the 2.x shape plus consumers_count (7bda2fe7db).
    files = packaging.package(aggregation.aggregate(inputs([node("a", counters={"2026-11": 3})])))
    report = json.loads(files.report_json)
    assert sorted(report) == [
        "consumers_count", "counters", "db_version", "kong_version", "license_key",
        "rbac_users", "services_count", "system_info", "workspaces_count",
    ]  # fmt: skip
    assert sorted(report["system_info"]) == ["cores", "uname"]
    assert report["counters"] == [{"bucket": "2026-11", "request_count": 3}]


def test_kong_2_8_and_3_0_reports_have_no_consumers_count(node: ObservationFactory) -> None:
    for version in ("2.8.4.1", "3.0.1.0"):
        files = packaging.package(aggregation.aggregate(inputs([node("a", version=version)])))
        assert "consumers_count" not in json.loads(files.report_json), version


def test_tar_is_named_like_kongs_and_holds_response_json(node: ObservationFactory) -> None:
    files = packaging.package(aggregation.aggregate(inputs([node("a")])))
    # NOW is 2026-11-27 15:04 UTC: 03:04 PM.
    assert files.tar_name == "report-2026_11_27_03_04_PM.tar"
    with tarfile.open(fileobj=io.BytesIO(files.tar_bytes)) as tar:
        assert tar.getnames() == ["response.json"]
        member = tar.extractfile("response.json")
        assert member is not None
        assert member.read() == files.report_json


def test_packaging_is_deterministic(node: ObservationFactory) -> None:
    first = packaging.package(aggregation.aggregate(inputs([node("a"), node("b")])))
    second = packaging.package(aggregation.aggregate(inputs([node("b"), node("a")])))
    assert first == second
    assert first.report_sha256 == hashlib.sha256(first.report_json).hexdigest()


@pytest.mark.parametrize("hash_names", [True, False])
@pytest.mark.parametrize("messages", [[], ["Zeitüberschreitung", 'a "b"\n\tc {\n}', "☃"]])
def test_nodes_json_is_its_entries_as_indented_sorted_json(
    node: ObservationFactory, messages: list[str], hash_names: bool
) -> None:
    # Written entry by entry, the bytes are still those of json.dumps over the whole list
    # (non-ASCII kept, newlines in a message escaped), on which every report's hash rests.
    failures = [
        models.Failure(pod=f"gw-{i}", reason=errors.Reason.NOT_READY, message=message)
        for i, message in enumerate(messages)
    ]
    collection = aggregation.aggregate(
        inputs([node("a"), node("b")], failures=failures, hash_names=hash_names)
    )
    entries = [entry.as_json() for entry in collection.nodes]
    expected = json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert packaging.package(collection).nodes_json == expected.encode()


@hypothesis.given(
    sizes=st.lists(st.integers(min_value=0, max_value=400), max_size=60),
    budget=st.integers(min_value=600, max_value=5000),
)
def test_split_nodes_keeps_every_entry_in_order_within_the_budget(
    sizes: list[int], budget: int
) -> None:
    entries = [{"pod": f"p{i}", "error": "x" * size} for i, size in enumerate(sizes)]
    whole = json.dumps(entries, indent=2, sort_keys=True).encode() + b"\n"
    parts = packaging.split_nodes(whole, budget=budget)
    assert all(len(part) <= budget for part in parts)  # entries here are all smaller
    assert [entry for part in parts for entry in json.loads(part)] == entries
    if len(whole) <= budget:
        assert parts == [whole]  # what fits is not cut


def test_an_entry_larger_than_the_budget_gets_a_part_of_its_own() -> None:
    entries = [{"pod": "a"}, {"pod": "big", "error": "x" * 900}, {"pod": "c"}]
    whole = json.dumps(entries, indent=2, sort_keys=True).encode() + b"\n"
    parts = [json.loads(part) for part in packaging.split_nodes(whole, budget=500)]
    assert parts == [[entries[0]], [entries[1]], [entries[2]]]
