"""`kubectl apply --dry-run=client` (kubectl 1.33) of every example and of the rendered chart.

kubectl resolves each kind through the API server's discovery even in a client dry run,
so it is pointed at the emulator of conftest.py (which knows the kinds as if the CRDs
were installed and holds no objects); a client dry run must only read from it.
`--validate=false`: the emulator's OpenAPI documents carry no schemas; the schemas are
checked by kubernetes-validate in test_rendering.py and the CRD's by tests/api.
"""

from __future__ import annotations

import asyncio
import pathlib
import re

import pytest
import yaml

from license_report_sandbox import kubeapi
from tests.helpers import chart

EXAMPLES = chart.ROOT / "examples"
EXAMPLE_FILES = sorted(
    p
    for p in [*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("gitops/*.yaml")]
    if p.name != "kustomization.yaml"
)


async def _apply(env: dict[str, str], *args: str | pathlib.Path) -> list[str]:
    """In a thread: the emulator answering kubectl runs in this test's event loop."""
    result = await asyncio.to_thread(
        chart.run, "kubectl", "apply", "--dry-run=client", "--validate=false", *args, env=env
    )
    lines = result.stdout.splitlines()
    assert lines
    assert all(re.fullmatch(r"\S+ (created|configured) \(dry run\)", line) for line in lines), lines
    return lines


def _objects(path: pathlib.Path) -> int:
    return len(chart.documents(path.read_text()))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
async def test_every_example_applies(
    path: pathlib.Path, kube_env: dict[str, str], api_server: kubeapi.KubeAPI
) -> None:
    assert len(await _apply(kube_env, "-f", path)) == _objects(path)
    assert {r.method for r in api_server.requests} == {"GET"}


async def test_the_kustomization_installs_its_requests_and_no_secret(
    kube_env: dict[str, str],
) -> None:
    # One topology's requests (the chart's defaults); the others are alternatives to it.
    kustomization = yaml.safe_load((EXAMPLES / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert "kong-chart.yaml" in resources
    assert all((EXAMPLES / name).is_file() for name in resources)
    lines = await _apply(kube_env, "-k", EXAMPLES)
    assert sum(_objects(EXAMPLES / name) for name in resources) == len(lines)
    assert all(line.startswith("licensereportrequest.licensereport.io/") for line in lines)


@pytest.mark.parametrize("name", chart.VALUE_SETS)
async def test_the_rendered_chart_applies(
    name: str, tmp_path: pathlib.Path, kube_env: dict[str, str], api_server: kubeapi.KubeAPI
) -> None:
    rendered = tmp_path / "chart.yaml"
    rendered.write_text(chart.template(chart.VALUE_SETS[name], "--include-crds").stdout)
    assert len(await _apply(kube_env, "-f", rendered)) == _objects(rendered)
    assert {r.method for r in api_server.requests} == {"GET"}
