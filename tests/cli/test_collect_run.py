"""``license-report collect`` end to end: files, figures and exit codes."""

from __future__ import annotations

import datetime
import io
import json
import pathlib
import re
import tarfile
from typing import Any

from tests.helpers.cli import Runner

DEAD = "http://127.0.0.1:1"  # nothing listens on port 1


def _nodes(fleet: dict[str, Any]) -> list[str]:
    return [arg for n in fleet["nodes"] for arg in ("--node", f"{n['name']}={n['url']}")]


def _this_month() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


def test_complete_report_exits_0_and_writes_the_three_files(
    cli: Runner, db_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "out"
    done = cli("collect", *_nodes(db_fleet), "--no-hash-names", "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    # Nodes flushed 100, 101 and 102 this month and 1 each before Kong 2.7 into one table:
    # every node shows the totals, which are never added up again.
    assert report["counters"] == [
        {"bucket": _this_month(), "request_count": 303},
        {"bucket": "UNKNOWN", "request_count": 3},
    ]
    assert report["db_version"].startswith("postgres ")
    assert report["consumers_count"] == 0  # a 3.4 fleet: the 2.x shape has it from 3.1
    nodes = json.loads((out / "nodes.json").read_text())
    assert [n["pod"] for n in nodes] == ["kong-0", "kong-1", "kong-2"]
    assert all(n["reachable"] and n["counters"] == "kept" for n in nodes)
    (tar_path,) = out.glob("report-*.tar")
    assert re.fullmatch(r"report-\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_(AM|PM)\.tar", tar_path.name)
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("response.json")
        assert member is not None
        assert json.load(io.TextIOWrapper(member)) == report
    assert "nodes reached  3 of 3" in done.stdout
    assert re.search(r"^requests +306$", done.stdout, re.MULTILINE)
    assert re.search(r"^consumers +0$", done.stdout, re.MULTILINE)
    assert "report.json in format kong-2.7" in done.stdout


def test_a_dbless_fleet_keeps_no_counters_and_exits_0(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    done = cli("collect", *_nodes(dbless_fleet), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert "counters" not in report  # as Kong's own DB-less report
    assert report["db_version"] == "off nil"  # a 3.4 fleet
    nodes = json.loads((tmp_path / "nodes.json").read_text())
    assert [(n["counters"], n["counters_note"]) for n in nodes] == 3 * [
        ("none", "DB-less: Kong's counter strategy is off")
    ]
    assert re.search(r"^requests +none kept \(see the notes\)$", done.stdout, re.MULTILINE)
    assert "note: No node keeps license counters (DB-less" in done.stdout


def test_a_dead_node_exits_3_and_is_named(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    done = cli(
        "collect", *_nodes(dbless_fleet), "--node", f"gone={DEAD}", "--no-hash-names",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "FAILED gone: ConnectionRefused" in done.stdout
    nodes = {
        n["pod"]: n
        for n in json.loads((tmp_path / "report.json").with_name("nodes.json").read_text())
    }
    assert nodes["gone"]["reachable"] is False
    assert nodes["gone"]["error"].startswith("ConnectionRefused")


def test_a_failed_run_exits_1_and_leaves_the_previous_report(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    assert cli("collect", *_nodes(dbless_fleet), "--out", str(tmp_path)).returncode == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    done = cli("collect", "--node", f"a={DEAD}", "--node", f"b={DEAD}", "--out", str(tmp_path))
    assert done.returncode == 1
    assert "none of the 2 gateway nodes could be reached" in done.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_options_from_the_environment(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    nodes = ",".join(f"{n['name']}={n['url']}" for n in dbless_fleet["nodes"])
    done = cli("collect", env={"LICENSE_REPORT_NODES": nodes, "LICENSE_REPORT_OUT": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.json").exists()


def test_the_hash_key_is_created_once_and_reused(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    first = cli("collect", *_nodes(dbless_fleet), "--out", str(tmp_path / "1"))
    second = cli("collect", *_nodes(dbless_fleet), "--out", str(tmp_path / "2"))
    assert "Created a new installation hash key" in first.stderr
    assert "Created" not in second.stderr
    key_file = tmp_path / "config" / "license-report" / "hash-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    pods = [[n["pod"] for n in json.loads((tmp_path / d / "nodes.json").read_text())] for d in "12"]
    assert pods[0] == pods[1]  # the same key, the same names
    assert "kong-0" not in (tmp_path / "1" / "nodes.json").read_text()  # hashed by default
    assert "hostname" not in json.loads((tmp_path / "1" / "report.json").read_text())["system_info"]
