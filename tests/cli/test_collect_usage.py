"""``license-report collect`` refuses bad invocations with exit code 2 and a clear word."""

from __future__ import annotations

import pathlib

import pytest

from license_report.cli import main


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    for name in ("LICENSE_REPORT_NODES", "LICENSE_REPORT_OUT", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "x"], "at least one --node"),
        (["--node", "gw", "--out", "x"], "expected NAME=VALUE"),
        (["--node", "gw=ftp://x", "--out", "x"], "must start with http"),
        (["--node", "gw=http://x"], "--out DIR is required"),
        (["--node", "gw=http://x", "--host-cores", "other=4", "--out", "x"], "is not a --node"),
        (["--node", "gw=http://x", "--host-cores", "gw=many", "--out", "x"], "not a number"),
        (
            [
                "--node",
                "gw=http://x",
                "--datastore",
                "postgresql://kong:hunter2@db/kong",
                "--out",
                "x",
            ],
            "must not carry a password",
        ),
        (
            ["--node", "gw=http://x", "--datastore", "mysql://db/kong", "--out", "x"],
            "postgresql://",
        ),
        (["--node", "gw=http://x", "--months", "0", "--out", "x"], "--months"),
        (["--node", "gw=http://x", "--hash-key-file", "/nonexistent", "--out", "x"], "hash key"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["collect", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hunter2" not in err


def test_token_over_plain_http_is_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n")
    argv = [
        "collect",
        "--node",
        "gw=http://127.0.0.1:1",
        "--admin-token-file",
        str(token),
        "--out",
        str(tmp_path),
    ]
    assert main.main(argv) == 2
    err = capsys.readouterr().err
    assert "plain http" in err
    assert "s3cr3t-token" not in err


def test_a_short_hash_key_is_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"short")
    argv = [
        "collect",
        "--node",
        "gw=http://127.0.0.1:1",
        "--hash-key-file",
        str(key),
        "--out",
        str(tmp_path),
    ]
    assert main.main(argv) == 2
    assert "at least 16" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main.main(["collect", "--help"])
    assert exit_.value.code == 0
    assert "Exit codes" in capsys.readouterr().out
