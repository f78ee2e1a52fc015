"""The chart lints strictly and renders valid Kubernetes 1.33 objects with every value set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import chart

NAMESPACED_KINDS = {
    "ServiceAccount",
    "Secret",
    "Deployment",
    "Service",
    "Role",
    "RoleBinding",
    "KopfPeering",
    "ServiceMonitor",
}
LRR_CRD = "licensereportrequests.licensereport.io"


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_helm_lint_strict_passes(name: str) -> None:
    values = json.dumps(chart.VALUE_SETS[name])
    result = chart.run(
        "helm", "lint", "--strict", chart.CHART, "-f", "-", check=False, input=values
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def _kubernetes_objects(values: dict[str, Any]) -> list[chart.Manifest]:
    return [
        m
        for m in chart.render(values, include_crds=True)
        if (m["apiVersion"], m["kind"]) not in chart.CUSTOM_KINDS
    ]


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_every_rendered_object_is_valid_kubernetes_1_33(name: str) -> None:
    """Strict: an unknown or misspelt field fails. The CRDs themselves are validated as
    CustomResourceDefinition objects; only objects of the CRDs' own kinds are skipped.
    The LicenseReportRequest CRD has its own test below."""
    for manifest in _kubernetes_objects(chart.VALUE_SETS[name]):
        if manifest["metadata"]["name"] == LRR_CRD:
            continue
        chart.validate(manifest)


def test_the_license_report_crd_is_valid_kubernetes_1_33() -> None:
    crd = chart.one(chart.render(), "CustomResourceDefinition", LRR_CRD)
    chart.validate(crd)


def test_only_the_crds_own_kinds_are_left_to_the_crds() -> None:
    """Every object but the kopf peering objects and the ServiceMonitor (custom kinds) is
    schema-checked above; the ServiceMonitor's fields are checked in test_metrics.py."""
    kinds = {
        (m["apiVersion"], m["kind"])
        for values in chart.VALUE_SETS.values()
        for m in chart.render(values, include_crds=True)
    }
    assert kinds & chart.CUSTOM_KINDS == {
        ("kopf.dev/v1", "KopfPeering"),
        ("kopf.dev/v1", "ClusterKopfPeering"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
    }


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_namespaced_objects_name_their_namespace(name: str) -> None:
    """So that the rendered chart applies as it is (kubectl apply -f, GitOps tools)."""
    for manifest in chart.render(chart.VALUE_SETS[name]):
        if manifest["kind"] in NAMESPACED_KINDS:
            assert manifest["metadata"].get("namespace"), manifest["metadata"]["name"]
        else:
            assert "namespace" not in manifest["metadata"], manifest["metadata"]["name"]


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_every_object_carries_the_chart_labels(name: str) -> None:
    for manifest in chart.render(chart.VALUE_SETS[name]):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == chart.RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_notes_tell_how_to_apply_a_request_and_fetch_the_report() -> None:
    result = chart.run(
        "helm", "install", chart.RELEASE, chart.CHART, "--dry-run=client", "-n", chart.NAMESPACE
    )
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kind: LicenseReportRequest" in notes
    assert "kubectl apply" in notes
    assert "report.json" in notes
    assert "get configmap kong-report" in notes
    assert "licensereport.io/rerun" in notes
