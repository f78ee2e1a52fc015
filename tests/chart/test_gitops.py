"""The Argo CD Application and Flux HelmRelease point at the chart, and their values pass
its schema and render."""

from __future__ import annotations

from typing import Any

from tests.helpers import chart

GITOPS = chart.ROOT / "examples" / "gitops"
CHART_PATH = "charts/license-report-operator"


def _docs(name: str) -> list[chart.Manifest]:
    return chart.documents((GITOPS / name).read_text())


def _renders(values: dict[str, Any]) -> list[chart.Manifest]:
    manifests = chart.render(values)
    assert chart.find(manifests, "Deployment")
    return manifests


def test_argo_cd_installs_the_chart_with_valid_values() -> None:
    app = chart.one(_docs("argocd-application.yaml"), "Application")
    source = app["spec"]["source"]
    assert source["path"] == CHART_PATH
    assert (chart.ROOT / source["path"] / "Chart.yaml").is_file()
    values = source["helm"]["valuesObject"]
    # Argo CD renders with `helm template`: lookup finds nothing, so the chart must not
    # make the hash key (it would change on every sync); the operator creates it once.
    assert values["hashKey"]["create"] is False
    manifests = _renders(values)
    assert not chart.find(manifests, "Secret")
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_argo_cd_syncs_the_requests_from_the_kustomization() -> None:
    app = chart.one(_docs("argocd-requests.yaml"), "Application")
    assert (chart.ROOT / app["spec"]["source"]["path"] / "kustomization.yaml").is_file()


def test_flux_installs_the_chart_from_its_git_source_with_valid_values() -> None:
    docs = _docs("flux-helmrelease.yaml")
    source = chart.one(docs, "GitRepository")
    release = chart.one(docs, "HelmRelease")
    spec = release["spec"]["chart"]["spec"]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert spec["chart"].removeprefix("./") == CHART_PATH
    assert (chart.ROOT / CHART_PATH / "Chart.yaml").is_file()
    assert release["spec"]["install"]["crds"] == "Create"  # kopf's peering CRDs, in crds/
    _renders(release["spec"]["values"])
    requests = chart.one(docs, "Kustomization")
    assert requests["spec"]["sourceRef"]["name"] == source["metadata"]["name"]
    path = requests["spec"]["path"].removeprefix("./")
    assert (chart.ROOT / path / "kustomization.yaml").is_file()


def test_the_git_source_keeps_what_flux_reads() -> None:
    source = chart.one(_docs("flux-helmrelease.yaml"), "GitRepository")
    kept = [line for line in source["spec"]["ignore"].splitlines() if line.startswith("!")]
    assert kept == ["!/charts/", "!/examples/"]
