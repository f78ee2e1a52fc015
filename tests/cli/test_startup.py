"""``license-report`` loads only what the subcommand it runs uses (issue 11).

Each check runs in a fresh interpreter and reads its ``sys.modules``: what an
earlier test imported cannot hide what the command loads. Speed is measured
by ``bench/cli.py``, not asserted here; these tests keep the imports that
speed depends on from coming back.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

#: The operator's frameworks and clients: ``collect`` and ``--help`` need none of them.
OPERATOR_ONLY = ("kopf", "kubernetes", "prometheus_client", "croniter", "kubernetes_validate")

_PROBE = """
import contextlib, io, json, sys
from license_report.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main.main(sys.argv[1:])
    except SystemExit as exit_:
        code = exit_.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _loaded(*argv: str, tmp_path: pathlib.Path) -> tuple[object, set[str]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENSE_REPORT_")}
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    return result["code"], set(result["modules"])


def _roots(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def test_collect_loads_neither_kopf_nor_the_kubernetes_client(tmp_path: pathlib.Path) -> None:
    # A whole run: flags, the engine, the event loop, a request (refused: port 1).
    code, modules = _loaded(
        "collect", "--node", "gw=http://127.0.0.1:1", "--out", str(tmp_path / "out"),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert code == 1  # the node was asked, and could not be reached
    assert {"license_report.cli.collecting", "aiohttp"} <= modules
    assert _roots(modules).isdisjoint(OPERATOR_ONLY)
    # Without --datastore there is no database to read.
    assert "psycopg" not in _roots(modules)
    # Built-in subcommands do not look up other distributions' ones.
    assert not any(name.startswith("license_report_sandbox") for name in modules)


def test_help_loads_no_engine(tmp_path: pathlib.Path) -> None:
    for argv in (["--help"], ["collect", "--help"]):
        code, modules = _loaded(*argv, tmp_path=tmp_path)
        assert code == 0
        assert "license_report.cli.collect" in modules
        heavy = {*OPERATOR_ONLY, "pydantic", "aiohttp", "psycopg", "cryptography", "uvloop"}
        assert _roots(modules).isdisjoint(heavy), argv
        assert not any(name.startswith("license_report.report") for name in modules), argv


def test_help_lists_other_distributions_commands(tmp_path: pathlib.Path) -> None:
    code, modules = _loaded("--help", tmp_path=tmp_path)
    assert code == 0
    assert "license_report_sandbox.sandbox" in modules  # its register() was called
