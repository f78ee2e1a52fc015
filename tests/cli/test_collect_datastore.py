"""``license-report collect`` in DB mode against a real PostgreSQL, password from a file."""

from __future__ import annotations

import json
import pathlib
import subprocess

from license_report.sources import datastore
from license_report_sandbox import process
from tests.expected import plugin_figures, tiers
from tests.helpers import datastores
from tests.helpers.cli import Runner


def _collect(
    cli: Runner,
    settings: datastore.DatastoreSettings,
    tmp_path: pathlib.Path,
    *args: str,
    nodes: int,
    password: str | None,
) -> subprocess.CompletedProcess[str]:
    """``collect`` from ``nodes`` DB-mode nodes and the datastore, password from a file,
    into tmp_path/out."""
    password_file = tmp_path / "pg-password"
    password_file.write_text(f"{password}\n")
    with process.spawn_fleet(count=nodes, mode="ee-db") as fleet:
        return cli(
            "collect",
            *(arg for n in fleet["nodes"] for arg in ("--node", f"{n['name']}={n['url']}")),
            "--datastore", f"postgresql://{settings.user}@{settings.host}:{settings.port}/{settings.database}",
            "--datastore-password-file", str(password_file),
            *args,
            "--out", str(tmp_path / "out"),
        )  # fmt: skip


def test_db_mode_reports_the_datastore_figures(
    cli: Runner, seeded: datastores.Seeder, tmp_path: pathlib.Path
) -> None:
    sample = datastores.seed_sample(seeded, nodes=3, window=24)
    done = _collect(cli, sample.settings, tmp_path, nodes=3, password=sample.settings.password)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    # A 3.4 fleet (the simulator's default): format auto is kong-2.7, Kong's 24 months.
    assert {c["bucket"]: c["request_count"] for c in report["counters"]} == sample.totals
    assert (report["services_count"], report["workspaces_count"], report["rbac_users"]) == (9, 3, 2)
    assert report["db_version"].startswith("postgres 18.")


def test_db_mode_in_kong_3_5_format_reports_the_seeded_plugins(
    cli: Runner, seeded: datastores.Seeder, tmp_path: pathlib.Path
) -> None:
    sample = datastores.seed_sample(seeded, nodes=2, window=12)  # kong-3.5: 12 months
    definition, expected = sample.definition, sample.totals
    settings = sample.settings
    done = _collect(
        cli, settings, tmp_path, "--format", "kong-3.5", nodes=2, password=settings.password
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {c["bucket"]: c["request_count"] for c in report["counters"]["buckets"]} == expected
    assert report["counters"]["total_requests"] == sum(expected.values())
    by_name, lambdas, kafkas = plugin_figures(definition)
    assert report["plugins_count"] == {
        "tiers": tiers(by_name),
        "unique_route_lambdas": lambdas,
        "unique_route_kafkas": kafkas,
    }
    assert (report["routes_count"], report["consumers_count"]) == (12, 5)
    assert report["deployment_info"] == {"type": "traditional"}
    assert cli("verify", str(tmp_path / "out" / "report.json")).returncode == 0


def test_a_wrong_password_fails_without_showing_it(
    cli: Runner, kong_db: datastore.DatastoreSettings, tmp_path: pathlib.Path
) -> None:
    done = _collect(cli, kong_db, tmp_path, nodes=1, password="not-the-password-Zq9")
    assert done.returncode == 1
    assert "password authentication failed" in done.stderr
    assert "not-the-password-Zq9" not in done.stderr + done.stdout
    assert not (tmp_path / "out").exists()
