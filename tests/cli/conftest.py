"""Fixtures running the real ``license-report`` executable, as a user would."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from license_report_sandbox import process
from tests.helpers.cli import EXECUTABLE, Runner, SandboxProcess, sandbox_env


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
    """Three Enterprise DB-less nodes; node i proxied 100 + i this month, and kept none of
    it (Kong's off strategy: their reports have no counters)."""
    with process.spawn_fleet(count=3, mode="ee-dbless") as fleet:
        yield fleet


@pytest.fixture
def db_fleet() -> Iterator[dict[str, Any]]:
    """Three Enterprise nodes on one datastore; node i flushed 100 + i this month and 1 in
    UNKNOWN, so every node's report shows 303 and 3."""
    with process.spawn_fleet(count=3, mode="ee-db") as fleet:
        yield fleet


@pytest.fixture
def short_tmpdir() -> Iterator[pathlib.Path]:
    """A TMPDIR for a sandbox child, short enough for PostgreSQL's socket path (pytest's
    own folders are too deep), emptied by the sandbox itself when all goes well."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="lrsb-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sandbox(
    short_tmpdir: pathlib.Path, tmp_path: pathlib.Path
) -> Iterator[Callable[..., SandboxProcess]]:
    started: list[SandboxProcess] = []

    def start(*args: str) -> SandboxProcess:
        child = subprocess.Popen(
            [str(EXECUTABLE), "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=sandbox_env(short_tmpdir, tmp_path / "config"),
        )
        started.append(SandboxProcess(child))
        return started[-1]

    yield start
    for running in started:  # a failed test must not leave a sandbox behind
        running.close()
