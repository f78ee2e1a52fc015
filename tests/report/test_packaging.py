"""The files users hand over: report.json in Kong's shape, nodes.json, the tar."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from license_report.report import aggregation, packaging
from tests.report.conftest import ObservationFactory, inputs


def test_report_json_has_exactly_kongs_fields(node: ObservationFactory) -> None:
    files = packaging.package(aggregation.aggregate(inputs([node("a", counters={"2026-11": 3})])))
    report = json.loads(files.report_json)
    assert sorted(report) == [
        "counters", "db_version", "kong_version", "license_key", "rbac_users",
        "services_count", "system_info", "workspaces_count",
    ]  # fmt: skip
    assert sorted(report["system_info"]) == ["cores", "hostname", "uname"]
    assert report["counters"] == [{"bucket": "2026-11", "request_count": 3}]


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
