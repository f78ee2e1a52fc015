"""``license-report run --metrics-address``: what it accepts, and a port in use named at start."""

from __future__ import annotations

import pathlib
import socket

import pytest
import yaml

from license_report.cli import main as cli_main
from license_report.cli import run as run_command
from tests.helpers.cli import Runner


def _parsed(*args: str) -> run_command.Address | None:
    address: run_command.Address | None = (
        cli_main.parser().parse_args(["run", *args]).metrics_address
    )
    return address


def test_metrics_are_served_beside_the_liveness_endpoint_by_default() -> None:
    # 8080 is kopf's liveness endpoint (--liveness): the two must never share a port.
    every_ipv4 = "0.0.0.0"  # noqa: S104 (in a pod: reachable by Prometheus)
    assert _parsed() == run_command.Address(host=every_ipv4, port=8081)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9102", run_command.Address(host="127.0.0.1", port=9102)),
        ("[::]:8081", run_command.Address(host="::", port=8081)),
        (":8081", run_command.Address(host=None, port=8081)),
        ("metrics.local:0", run_command.Address(host="metrics.local", port=0)),
        ("", None),
    ],
)
def test_the_address_is_host_and_port_or_empty_to_disable(
    text: str, expected: run_command.Address | None
) -> None:
    assert _parsed("--metrics-address", text) == expected


@pytest.mark.parametrize("text", ["8081", "localhost:", "localhost:http", "localhost:65536"])
def test_a_malformed_address_is_refused(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parsed("--metrics-address", text)
    assert exit_info.value.code == 2
    assert f"{text!r} is not HOST:PORT" in capsys.readouterr().err


def test_a_port_in_use_stops_the_operator_with_the_reason(
    cli: Runner, tmp_path: pathlib.Path
) -> None:
    """Before kopf starts (so before any API call: the kubeconfig points nowhere)."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--standalone",
            "--liveness",
            "",
            "--metrics-address",
            f"127.0.0.1:{port}",
        )
    assert result.returncode == 1, result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "--metrics-address" in result.stderr
    assert "Traceback" not in result.stderr
