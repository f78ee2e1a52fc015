"""Our ``inspect`` port and checksum against the real inspect.lua, run by a real LuaJIT.

Each report is decoded by lua-cjson in LuaJIT, its ``null``s removed (Kong's
table has no such keys: a ``nil`` is no entry), printed by inspect.lua, and
the bytes compared with ``lua_inspect.inspect``; the SHA-1 of those bytes must
be ``formats.checksum``. Needs the Debian packages ``luajit``, ``lua-inspect``
and ``lua-cjson`` (``.ci/run`` installs them when it runs as root); without
them the tests say so and skip.

Debian ships inspect 3.1.1, Kong pins 3.1.3: the two print the same except for
control characters (3.1.3 escapes DEL, 3.1.1 leaves it raw). A report holds
none, so the strings generated here hold none either; the escaping rules are
checked against 3.1.3's source in ``test_lua_inspect_rules.py``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import subprocess
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from license_report.report import formats, lua_inspect
from tests.helpers import lua


@pytest.fixture(scope="module")
def luajit() -> str:
    """The luajit executable, once its inspect and cjson modules load; skip otherwise."""
    return lua.find_luajit()


def _assert_same_as_kong(luajit: str, document: dict[str, Any]) -> None:
    real = lua.inspect(luajit, document, strip_nulls=True)
    assert lua_inspect.inspect(document).encode() == real
    # Kong hashes the table before adding checksum: a stale one is left out.
    stated = {**document, "checksum": "0" * 40}
    assert formats.checksum(stated) == hashlib.sha1(real, usedforsecurity=False).hexdigest()


def kong_3_5_report(**changes: object) -> dict[str, Any]:
    """A report shaped as Kong 3.5's ``get_license_report`` builds it."""
    report: dict[str, Any] = {
        "timestamp": 1795791840,
        "kong_version": "3.5.0.3",
        "db_version": "postgres 15.4",
        "system_info": {"uname": "Linux x86_64", "hostname": None, "cores": 6},
        "deployment_info": {"type": "hybrid", "connected_dp_count": 3},
        "license": {
            "license_key": "ASDASDASDASDASDASDASDASDASD_a1VASASD",
            "license_expiration_date": "2027-01-31",
        },
        "counters": {
            "total_requests": 346,
            "buckets": [
                {"bucket": "2026-10", "request_count": 296},
                {"bucket": "UNKNOWN", "request_count": 50},
            ],
        },
        "rbac_users": 2,
        "workspaces_count": 1,
        "services_count": 27,
        "routes_count": 31,
        "consumers_count": 0,
        "plugins_count": {
            "tiers": {
                "free": {"key-auth": 2, "rate-limiting": 1},
                "enterprise": {"openid-connect": 1},
                "custom": {},
            },
            "unique_route_lambdas": 0,
            "unique_route_kafkas": 0,
        },
    }
    report.update(changes)
    return report


EDGE_CASES = {
    "a Kong 3.5 report": kong_3_5_report(),
    "DB-less: no counters, empty tiers": kong_3_5_report(
        counters=None,
        db_version="off",
        deployment_info={"type": "dbless"},
        plugins_count={
            "tiers": {"free": {}, "enterprise": {}, "custom": {}},
            "unique_route_lambdas": 0,
            "unique_route_kafkas": 0,
        },
    ),
    "no buckets": kong_3_5_report(counters={"total_requests": 0, "buckets": []}),
    "large counts": kong_3_5_report(
        counters={
            "total_requests": 10**15 + 2**53,
            "buckets": [
                {"bucket": "2026-01", "request_count": 10**15},
                {"bucket": "2026-02", "request_count": 2**53},
                {"bucket": "2026-03", "request_count": 10**14 - 1},
                {"bucket": "2026-04", "request_count": 10**14},
                {"bucket": "2026-05", "request_count": 10**14 + 1},
                {"bucket": "2026-06", "request_count": 123456789012345},  # a tie at digit 15
                {"bucket": "2026-07", "request_count": 0},
                {"bucket": "2026-08", "request_count": 2**63},
            ],
        }
    ),
    "keys that are not identifiers": kong_3_5_report(
        plugins_count={
            "tiers": {
                "free": {"key-auth": 1, "_x": 2, "a1": 3, "1a": 4, "A": 5, "a": 6, "": 7},
                "enterprise": {"end": 1, "with space": 2, "dot.ted": 3, "é": 4, "Z_": 5},
                "custom": {"it's": 1, 'say "hi"': 2, "both '\"": 3, "back\\slash": 4},
            },
            "unique_route_lambdas": 1,
            "unique_route_kafkas": 2,
        }
    ),
    "an UNLICENSED node": kong_3_5_report(
        license={"license_key": "UNLICENSED", "license_expiration_date": "2017-7-20"}
    ),
    "nested empty tables and nulls": {"a": {}, "b": [], "c": [{}, [], [[]]], "d": None},
    "holes where a list held null": {"h": [1, None, 3], "g": [None, 2]},
    "booleans, floats and negatives": {"t": True, "f": False, "x": 0.1, "y": -1.5, "n": -3},
    "a float tie after the 14th digit": {"z": 12345678901234.5, "w": -99999999999999.5},
}


@pytest.mark.parametrize("document", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_print_and_hash_as_real_inspect_does(
    luajit: str, document: dict[str, Any]
) -> None:
    _assert_same_as_kong(luajit, document)


# Generated values. Strings hold no control characters (see the module docstring), and
# no lone surrogates, which cjson refuses and JSON from Kong cannot hold.
_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=[*map(chr, range(32)), "\x7f"]),
    max_size=12,
)
_KEYS = st.one_of(
    st.text("abcXYZ_019", max_size=6),  # identifiers or not, mixed case, digits, underscores
    st.sampled_from(["key-auth", "end", "nil", "_", "__", "a b", "'", '"', "é", "Z", "z"]),
    _TEXT,
)
_COUNTS = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=10**14 - 10, max_value=10**14 + 10),
    st.integers(min_value=0, max_value=2**64),
    st.sampled_from([0, 10**15, 2**53, 2**53 + 1, 10**14 + 5, 123456789012345]),
)
_NUMBERS = st.one_of(
    _COUNTS,
    st.integers(min_value=-(2**63), max_value=0),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=10**12, max_value=10**14).map(lambda n: n + 0.5),  # ties
)
_VALUES = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=24,
)


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(document=st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_generated_tables_print_as_real_inspect_does(luajit: str, document: dict[str, Any]) -> None:
    _assert_same_as_kong(luajit, document)


_BUCKETS = st.lists(
    st.fixed_dictionaries(
        {"bucket": st.sampled_from(["2026-01", "2026-02", "UNKNOWN"]), "request_count": _COUNTS}
    ),
    max_size=13,
)
_TIER = st.dictionaries(st.sampled_from(["key-auth", "acl", "my_plugin", "Custom9"]), _COUNTS)


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(
    buckets=_BUCKETS,
    tiers=st.fixed_dictionaries({"free": _TIER, "enterprise": _TIER, "custom": _TIER}),
    counts=st.lists(_COUNTS, min_size=6, max_size=6),
    expiration=st.none() | st.just("2027-01-31"),
    dbless=st.booleans(),
)
def test_generated_kong_reports_hash_as_kong_does(
    luajit: str,
    buckets: list[dict[str, Any]],
    tiers: dict[str, Any],
    counts: list[int],
    expiration: str | None,
    dbless: bool,
) -> None:
    rbac, workspaces, services, routes, consumers, timestamp = counts
    report = kong_3_5_report(
        timestamp=timestamp,
        counters=None
        if dbless
        else {
            "total_requests": sum(bucket["request_count"] for bucket in buckets),
            "buckets": buckets,
        },
        license={"license_key": "UNLICENSED", "license_expiration_date": expiration},
        rbac_users=rbac,
        workspaces_count=workspaces,
        services_count=services,
        routes_count=routes,
        consumers_count=consumers,
        plugins_count={"tiers": tiers, "unique_route_lambdas": 0, "unique_route_kafkas": 0},
    )
    _assert_same_as_kong(luajit, report)


def test_the_documented_luajit_line_gives_the_checksum(luajit: str, tmp_path: pathlib.Path) -> None:
    docs = pathlib.Path(__file__).parents[2] / "docs" / "report-format.md"
    blocks = re.findall(r"```sh\n(.*?)```", docs.read_text(), flags=re.DOTALL)
    (line,) = [block for block in blocks if "luajit -e" in block]
    command = line.replace("license-report verify report.json\n", "")
    report = kong_3_5_report(counters={"total_requests": 10**15, "buckets": []})
    report["checksum"] = formats.checksum(report)
    (tmp_path / "report.json").write_text(json.dumps(report, indent=2))
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=lua.environment(),
        timeout=30,
        check=True,
    )
    assert done.stdout.split()[0] == report["checksum"]
