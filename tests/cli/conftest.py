"""Run the real ``license-report`` executable, as a user would."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from license_report.sim import process

Runner = Callable[..., subprocess.CompletedProcess[str]]
EXECUTABLE = pathlib.Path(sys.executable).with_name("license-report")


@pytest.fixture
def cli(tmp_path: pathlib.Path) -> Runner:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LICENSE_REPORT_") and key != "PGPASSWORD"
        }
        environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
        environment.update(env or {})
        return subprocess.run(
            [str(EXECUTABLE), *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def dbless_fleet() -> Iterator[dict[str, Any]]:
    """Three Enterprise DB-less nodes; node i counts 100 + i this month and 1 in UNKNOWN."""
    with process.spawn_fleet(count=3, mode="ee-dbless") as fleet:
        yield fleet
