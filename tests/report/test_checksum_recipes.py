"""``license-report verify`` on a kong-3.5 report's checksum: Kong's recipe, the earlier one,
and a report changed after its checksum was written. Runs the installed executable, as a
user does; the checksums below were computed without this project (see each constant)."""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

EXECUTABLE = pathlib.Path(sys.executable).with_name("license-report")

#: A Kong 3.5 report, counts large enough that Lua prints one in exponent form.
REPORT: dict[str, Any] = {
    "timestamp": 1795791840,
    "kong_version": "3.5.0.3",
    "db_version": "postgres 15.4",
    "system_info": {"uname": "Linux x86_64", "cores": 6},
    "deployment_info": {"type": "traditional"},
    "license": {
        "license_key": "ASDASDASDASDASDASDASDASDASD_a1VASASD",
        "license_expiration_date": "2027-01-31",
    },
    "counters": {
        "total_requests": 1000000000000346,
        "buckets": [
            {"bucket": "2026-10", "request_count": 1000000000000296},
            {"bucket": "UNKNOWN", "request_count": 50},
        ],
    },
    "rbac_users": 2,
    "workspaces_count": 1,
    "services_count": 27,
    "routes_count": 31,
    "consumers_count": 0,
    "plugins_count": {
        "tiers": {"free": {"key-auth": 2}, "enterprise": {"openid-connect": 1}, "custom": {}},
        "unique_route_lambdas": 0,
        "unique_route_kafkas": 0,
    },
}
#: luajit (Debian lua-cjson, lua-inspect) printing ``inspect(cjson.decode(REPORT))``, | sha1sum.
KONG_RECIPE = "51c7446c1534c750e62c33a35d09173713decd51"
#: ``jq -cS . | tr -d '\n' | sha1sum``: the earlier, canonical-JSON recipe.
EARLIER_RECIPE = "e82a829862954c698a2e73252696e0360d1ceb2b"


def _verify(path: pathlib.Path, report: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path.write_text(json.dumps(report, indent=2))
    return subprocess.run(
        [str(EXECUTABLE), "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("checksum", "recipe"),
    [(KONG_RECIPE, "Kong's recipe"), (EARLIER_RECIPE, "the earlier recipe")],
    ids=["kong", "earlier"],
)
def test_verify_accepts_either_recipe_and_says_which(
    tmp_path: pathlib.Path, checksum: str, recipe: str
) -> None:
    done = _verify(tmp_path / "report.json", {**REPORT, "checksum": checksum})
    assert done.returncode == 0, done.stderr
    assert f"checksum: OK ({checksum}, " in done.stdout
    assert recipe in done.stdout


def test_a_null_member_is_left_out_as_kong_leaves_out_a_nil(tmp_path: pathlib.Path) -> None:
    report = copy.deepcopy(REPORT)
    report["system_info"]["hostname"] = None
    done = _verify(tmp_path / "report.json", {**report, "checksum": KONG_RECIPE})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("checksum", [KONG_RECIPE, EARLIER_RECIPE], ids=["kong", "earlier"])
def test_verify_rejects_a_report_changed_after_its_checksum(
    tmp_path: pathlib.Path, checksum: str
) -> None:
    tampered = copy.deepcopy(REPORT)
    tampered["counters"]["buckets"][1]["request_count"] = 49
    done = _verify(tmp_path / "report.json", {**tampered, "checksum": checksum})
    assert done.returncode == 1
    assert "checksum: FAILED" in done.stderr
    assert "is NOT valid" in done.stderr
