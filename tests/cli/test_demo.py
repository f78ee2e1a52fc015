"""``license-report demo`` (what ``make demo`` runs) shows the seeded figures."""

from __future__ import annotations

import datetime
import json
import pathlib

from license_report_sandbox import seed
from tests.expected import monthly_totals
from tests.helpers.cli import Runner


def test_demo_reports_the_seeded_usage(cli: Runner, tmp_path: pathlib.Path) -> None:
    done = cli("demo", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    now = datetime.datetime.now(datetime.UTC)
    # A 3.4 fleet: format auto is kong-2.7, Kong's 24 months.
    expected = monthly_totals(
        seed.sample_seed(now=now.date(), nodes=3, months=14), months=24, now=now
    )
    assert {c["bucket"]: c["request_count"] for c in report["counters"]} == expected
    # The license payload's key as is, as Kong writes it.
    assert report["license_key"] == "DEMO0000000000000_a1V000000000000DEMO"
    assert "outcome        Complete" in done.stdout
