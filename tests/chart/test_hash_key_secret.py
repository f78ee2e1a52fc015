"""The installation hash-key Secret: made once with a random 64-hex key, reused on upgrades
through `lookup`, kept on uninstall; or an existing Secret; or left to the operator.

The reuse branch is exercised with helm's real `lookup`: `helm template --dry-run=server`
against the emulated API server of conftest.py, holding the Secret a previous install
would have left (with Helm's ownership metadata, which helm checks).
"""

from __future__ import annotations

import asyncio
import base64
import pathlib
import re
import subprocess

from license_report_sandbox import kubeapi
from tests.helpers import chart

SECRET = "lro-license-report-operator-hash-key"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _key(secret: chart.Manifest) -> str:
    assert list(secret["data"]) == ["key"]
    return base64.b64decode(secret["data"]["key"], validate=True).decode()


def _fresh_secret() -> chart.Manifest:
    """Rendered afresh (not from the render cache): the key is random."""
    text = chart.template(None, "--show-only", "templates/hash-key-secret.yaml").stdout
    return chart.one(chart.documents(text), "Secret", SECRET)


def test_without_a_cluster_each_render_makes_a_new_64_hex_key() -> None:
    first, second = _key(_fresh_secret()), _key(_fresh_secret())
    assert HEX64.match(first)
    assert HEX64.match(second)
    assert first != second


def test_the_secret_is_kept_on_uninstall_and_named_to_the_operator() -> None:
    manifests = chart.render()
    secret = chart.one(manifests, "Secret", SECRET)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert secret["type"] == "Opaque"
    args = chart.container(manifests)["args"]
    assert args[args.index("--hash-key-secret") + 1] == SECRET


async def _server_side(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """In a thread: the emulator answering helm runs in this test's event loop."""
    return await asyncio.to_thread(
        chart.template,
        None,
        "--dry-run=server",
        # The emulator's OpenAPI documents carry no schemas.
        "--disable-openapi-validation",
        "--show-only",
        "templates/hash-key-secret.yaml",
        check=False,
        env=env,
    )


async def test_an_existing_key_is_reused_byte_for_byte(
    api_server: kubeapi.KubeAPI, kube_env: dict[str, str]
) -> None:
    previous = "0123456789abcdef" * 4
    api_server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET,
                "namespace": chart.NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": chart.RELEASE,
                    "meta.helm.sh/release-namespace": chart.NAMESPACE,
                },
            },
            "type": "Opaque",
            "data": {"key": base64.b64encode(previous.encode()).decode()},
        }
    )
    result = await _server_side(kube_env)
    assert result.returncode == 0, result.stderr
    assert _key(chart.one(chart.documents(result.stdout), "Secret", SECRET)) == previous
    secret_path = f"/api/v1/namespaces/{chart.NAMESPACE}/secrets/{SECRET}"
    asked = [(r.method, r.path) for r in api_server.requests]
    assert ("GET", secret_path) in asked  # the lookup really asked
    assert {method for method, _ in asked} == {"GET"}


async def test_with_a_cluster_but_no_secret_a_new_key_is_made(
    api_server: kubeapi.KubeAPI, kube_env: dict[str, str]
) -> None:
    result = await _server_side(kube_env)
    assert result.returncode == 0, result.stderr
    assert HEX64.match(_key(chart.one(chart.documents(result.stdout), "Secret", SECRET)))


def test_an_existing_secret_replaces_the_chart_one() -> None:
    manifests = chart.render(chart.VALUE_SETS["existing-key"])
    assert not chart.find(manifests, "Secret")
    args = chart.container(manifests)["args"]
    assert args[args.index("--hash-key-secret") + 1] == "my-hash-key"


def test_the_operator_can_be_left_to_create_the_key() -> None:
    manifests = chart.render(chart.VALUE_SETS["operator-creates-key"])
    assert not chart.find(manifests, "Secret")
    args = chart.container(manifests)["args"]
    assert args[args.index("--hash-key-secret") + 1] == "lr-key"


def test_the_operator_accepts_the_generated_key(tmp_path: pathlib.Path) -> None:
    """The operator reads data["key"] as bytes and needs at least 16 of them."""
    from license_report.report import hashing

    key = _key(_fresh_secret()).encode()
    assert hashing.check_key(key) == key
