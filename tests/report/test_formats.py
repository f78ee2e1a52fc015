"""report.json in Kong 3.5's shape: its fields, where each figure comes from, the checksum."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import shutil
import subprocess
from typing import Any

import pytest

from license_report.report import aggregation, formats, hashing, lua_inspect, models, packaging
from tests.helpers.observations import KEY, NOW, ObservationFactory, inputs, observation

COUNTS = models.EntityCounts(
    services=7,
    routes=11,
    consumers=3,
    workspaces=2,
    rbac_users=1,
    plugins=models.PluginUsage(
        by_name={"key-auth": 2, "openid-connect": 1, "my-plugin": 4},
        unique_route_lambdas=1,
        unique_route_kafkas=2,
    ),
)


def _kong_3_5(collection: models.Collection) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        packaging.package(collection, format=formats.Format.KONG_3_5).report_json
    )
    return report


def _independent_checksum(report: dict[str, Any]) -> str:
    """The earlier recipe as the docs tell a reader to run it: sorted keys, no whitespace."""
    body = {key: value for key, value in report.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def test_kong_3_5_has_exactly_kongs_fields(node: ObservationFactory) -> None:
    collection = aggregation.aggregate(inputs([node("a")], listed_counts=COUNTS))
    report = _kong_3_5(collection)
    assert sorted(report) == [
        "checksum", "consumers_count", "counters", "db_version", "deployment_info",
        "kong_version", "license", "plugins_count", "rbac_users", "routes_count",
        "services_count", "system_info", "timestamp", "workspaces_count",
    ]  # fmt: skip
    assert sorted(report["counters"]) == ["buckets", "total_requests"]
    assert sorted(report["license"]) == ["license_expiration_date", "license_key"]
    assert sorted(report["plugins_count"]) == [
        "tiers", "unique_route_kafkas", "unique_route_lambdas",
    ]  # fmt: skip
    assert sorted(report["system_info"]) == ["cores", "uname"]  # no hostname since 2.3


def test_kong_3_5_figures_are_the_collections(node: ObservationFactory) -> None:
    observations = [
        node("a", counters={"2026-10": 100, "2026-11": 5, "UNKNOWN": 7}),
        node("b", counters={"2026-10": 20}),
    ]
    collection = aggregation.aggregate(inputs(observations, listed_counts=COUNTS))
    report = _kong_3_5(collection)
    legacy = json.loads(packaging.package(collection).report_json)
    # Same buckets as the 2.7 shape (views of one table: the larger); the total adds
    # UNKNOWN in, as Kong's does.
    assert report["counters"] == {"buckets": legacy["counters"], "total_requests": 112}
    for same in ("db_version", "kong_version", "rbac_users", "services_count", "system_info"):
        assert report[same] == legacy[same], same
    assert (report["routes_count"], report["consumers_count"]) == (11, 3)
    assert report["workspaces_count"] == 2
    assert report["timestamp"] == int(NOW.timestamp())
    assert report["plugins_count"] == {
        "tiers": {
            "free": {"key-auth": 2},
            "enterprise": {"openid-connect": 1},
            "custom": {"my-plugin": 4},
        },
        "unique_route_lambdas": 1,
        "unique_route_kafkas": 2,
    }
    assert report["deployment_info"] == {"type": "traditional"}
    dbless = aggregation.aggregate(inputs([node("c", database="off")], listed_counts=COUNTS))
    assert _kong_3_5(dbless)["deployment_info"] == {"type": "dbless"}


def test_empty_counters_are_an_empty_object_as_cjson_writes_them(
    node: ObservationFactory,
) -> None:
    # A DB-mode fleet with no request in the window: Kong's empty Lua table is {}.
    collection = aggregation.aggregate(inputs([node("a", counters={})], listed_counts=COUNTS))
    assert (
        json.loads(packaging.package(collection, format=formats.Format.KONG_2_7).report_json)[
            "counters"
        ]
        == {}
    )
    report = _kong_3_5(collection)
    assert report["counters"] == {"total_requests": 0, "buckets": {}}
    assert "buckets = {}" in lua_inspect.inspect(
        {k: v for k, v in report.items() if k != "checksum"}
    )
    assert formats.checksum(report) == report["checksum"]


def test_no_counters_key_when_no_node_keeps_any(node: ObservationFactory) -> None:
    collection = aggregation.aggregate(inputs([node("a", database="off")], listed_counts=COUNTS))
    assert "counters" not in json.loads(packaging.package(collection).report_json)
    report = _kong_3_5(collection)
    assert "counters" not in report
    assert formats.checksum(report) == report["checksum"]


def test_the_checksum_is_kongs_and_the_earlier_recipe_still_computes(
    node: ObservationFactory,
) -> None:
    report = _kong_3_5(aggregation.aggregate(inputs([node("a", counters={"2026-11": 3})])))
    # Kong's recipe (checked against real inspect.lua in test_lua_inspect_luajit.py).
    assert formats.checksum(report) == report["checksum"]
    assert formats.matching_recipe(report) is formats.Recipe.KONG_INSPECT
    changed = {**report, "services_count": 1 + report["services_count"]}
    assert formats.checksum(changed) != report["checksum"]
    assert formats.matching_recipe(changed) is None
    # The earlier recipe, still accepted for reports made with it.
    earlier = {**report, "checksum": _independent_checksum(report)}
    assert earlier["checksum"] != report["checksum"]
    assert formats.canonical_json_checksum(report) == earlier["checksum"]
    assert formats.matching_recipe(earlier) is formats.Recipe.CANONICAL_JSON


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_documented_jq_line_gives_the_earlier_checksum(node: ObservationFactory) -> None:
    files = packaging.package(
        aggregation.aggregate(inputs([node("a", counters={"2026-11": 3})], listed_counts=COUNTS)),
        format=formats.Format.KONG_3_5,
    )
    jq = subprocess.run(
        ["jq", "-cS", "del(.checksum)"], input=files.report_json, capture_output=True, check=True
    )
    expected = hashlib.sha1(jq.stdout.rstrip(b"\n"), usedforsecurity=False).hexdigest()
    assert formats.canonical_json_checksum(json.loads(files.report_json)) == expected


def test_canonical_json_orders_keys_by_utf16_as_rfc_8785_does() -> None:
    # RFC 8785 section 3.2.3's example: the emoji (a surrogate pair) sorts before U+FB33.
    value = {
        "\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7,
    }  # fmt: skip
    text = formats.canonical_json(value).decode()
    keys = list(json.loads(text))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert formats.canonical_json({"b": [True, None, "é\n"], "a": -1}) == (
        '{"a":-1,"b":[true,null,"é\\n"]}'.encode()
    )
    with pytest.raises(TypeError, match="float"):
        formats.canonical_json({"a": 1.5})


def test_deployment_info_follows_the_mode_and_is_hybrid_with_a_control_plane() -> None:
    traditional = aggregation.aggregate(
        inputs([observation("a", database="postgres")], listed_counts=COUNTS)
    )
    assert _kong_3_5(traditional)["deployment_info"] == {"type": "traditional"}

    plain = observation("cp", database="postgres")
    configuration = plain.info.configuration.model_copy(update={"role": "control_plane"})
    control_plane = dataclasses.replace(
        plain, info=plain.info.model_copy(update={"configuration": configuration})
    )
    hybrid_counts = COUNTS.model_copy(update={"data_planes": 4})
    hybrid = aggregation.aggregate(inputs([control_plane], listed_counts=hybrid_counts))
    assert _kong_3_5(hybrid)["deployment_info"] == {"type": "hybrid", "connected_dp_count": 4}

    # A control plane whose data planes nobody counted: Kong's nil, and a note.
    uncounted = aggregation.aggregate(inputs([control_plane], listed_counts=COUNTS))
    assert _kong_3_5(uncounted)["deployment_info"] == {"type": "hybrid"}
    assert any("data planes are not counted" in note for note in uncounted.notes)


def test_license_without_one_is_kongs_unlicensed_payload(node: ObservationFactory) -> None:
    report = _kong_3_5(aggregation.aggregate(inputs([node("a")])))
    assert report["license"] == {
        "license_key": "UNLICENSED",
        "license_expiration_date": "2017-7-20",
    }


def test_license_key_is_kongs_and_its_expiration_date_given(node: ObservationFactory) -> None:
    facts = models.LicenseFacts(
        license_key="RAW-KEY-123", expiration_date=datetime.date(2027, 3, 31)
    )
    report = _kong_3_5(aggregation.aggregate(inputs([node("a")], license=facts)))
    assert report["license"] == {
        "license_key": "RAW-KEY-123",
        "license_expiration_date": "2027-03-31",
    }
    assert hashing.keyed_hash(key=KEY, value="RAW-KEY-123") not in json.dumps(report)


def test_without_a_license_secret_a_3_5_nodes_expiration_date_is_used() -> None:
    # A Kong 3.5 node's own report nests the license; its date is all there is to go by.
    obs = observation("a", license_key="RAW-KEY-9")
    nested = obs.license_report.model_validate(  # type: ignore[union-attr]
        {
            "counters": {
                "total_requests": 3,
                "buckets": [{"bucket": "2026-11", "request_count": 3}],
            },
            "license": {"license_key": "RAW-KEY-9", "license_expiration_date": "2028-01-15"},
            "kong_version": "3.5.0.0",
            "db_version": "postgres 15.4",
        }
    )
    collection = aggregation.aggregate(inputs([dataclasses.replace(obs, license_report=nested)]))
    report = _kong_3_5(collection)
    assert report["license"] == {
        "license_key": "RAW-KEY-9",
        "license_expiration_date": "2028-01-15",
    }
    assert report["counters"] == {
        "buckets": [{"bucket": "2026-11", "request_count": 3}],
        "total_requests": 3,
    }


@pytest.mark.parametrize(
    ("version", "shape", "months"),
    [("2.8.4.1", "kong-2.7", 24), ("3.4.3.12", "kong-2.7", 24), ("3.5.0.0", "kong-3.5", 12),
     ("3.9.1.0", "kong-3.5", 12)],
)  # fmt: skip
def test_the_default_format_is_the_fleets_own_kongs(
    node: ObservationFactory, version: str, shape: str, months: int
) -> None:
    # Two buckets: the window's first month (kept) and the month before it (dropped).
    first = NOW.year * 12 + NOW.month - months
    before, inside = (f"{(i - 1) // 12:04d}-{(i - 1) % 12 + 1:02d}" for i in (first, first + 1))
    obs = node("a", version=version, counters={before: 1, inside: 2})
    collection = aggregation.aggregate(inputs([obs], listed_counts=COUNTS))
    assert collection.format == shape
    assert packaging.package(collection) == packaging.package(
        collection, format=formats.Format(shape)
    )
    report = json.loads(packaging.package(collection).report_json)
    assert ("checksum" in report) is (shape == "kong-3.5")
    buckets = report["counters"]["buckets"] if shape == "kong-3.5" else report["counters"]
    assert buckets == [{"bucket": inside, "request_count": 2}]
