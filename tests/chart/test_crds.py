"""The chart ships the very CRD of crds/ (generated from the models), behind crds.enabled and
kept on uninstall; kopf's peering CRDs come with it."""

from __future__ import annotations

import pathlib
import shutil

import yaml

from tests.helpers import chart

LRR_CRD = "licensereportrequests.licensereport.io"
PEERING_CRDS = chart.CHART / "crds" / "kopf-peerings.yaml"


def test_the_chart_copy_is_the_generated_crd() -> None:
    """`make crds` writes both; run it when this fails."""
    assert chart.CHART_CRD_FILE.read_bytes() == chart.CRD_FILE.read_bytes(), (
        "charts/license-report-operator/crds-source/ differs from crds/: run `make crds`"
    )


def test_the_rendered_crd_is_the_generated_one_plus_labels_and_keep() -> None:
    rendered = chart.one(chart.render(), "CustomResourceDefinition", LRR_CRD)
    metadata = rendered["metadata"]
    assert metadata.pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert metadata.pop("labels")["app.kubernetes.io/instance"] == chart.RELEASE
    assert rendered == yaml.safe_load(chart.CRD_FILE.read_text())


def test_a_crd_that_differs_from_crds_fails_the_comparison(tmp_path: pathlib.Path) -> None:
    """The comparison above really looks at the content: render a chart whose copy has one
    printer column less, and it no longer equals crds/."""
    copy = tmp_path / "chart"
    shutil.copytree(chart.CHART, copy)
    source = copy / "crds-source" / chart.CRD_FILE.name
    crd = yaml.safe_load(source.read_text())
    crd["spec"]["versions"][0]["additionalPrinterColumns"].pop()
    source.write_text(yaml.safe_dump(crd))
    rendered = chart.one(
        chart.documents(chart.template(None, chart=copy).stdout),
        "CustomResourceDefinition",
        LRR_CRD,
    )
    del rendered["metadata"]["labels"], rendered["metadata"]["annotations"]
    assert rendered != yaml.safe_load(chart.CRD_FILE.read_text())


def test_crds_can_be_turned_off_and_left_on_uninstall() -> None:
    assert not chart.find(chart.render(chart.VALUE_SETS["crds-off"]), "CustomResourceDefinition")
    unkept = chart.one(chart.render({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in unkept["metadata"]


def test_a_missing_crd_copy_fails_the_render(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "chart"
    shutil.copytree(chart.CHART, copy)
    (copy / "crds-source" / chart.CRD_FILE.name).unlink()
    result = chart.template(None, chart=copy, check=False)
    assert result.returncode != 0
    assert "make crds" in result.stderr


def _peering_crds() -> dict[str, chart.Manifest]:
    return {d["metadata"]["name"]: d for d in chart.documents(PEERING_CRDS.read_text())}


def test_kopf_peering_crds_are_kopfs_own() -> None:
    crds = _peering_crds()
    assert set(crds) == {"kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"}
    assert crds["kopfpeerings.kopf.dev"]["spec"]["scope"] == "Namespaced"
    assert crds["clusterkopfpeerings.kopf.dev"]["spec"]["scope"] == "Cluster"
    for crd in crds.values():
        spec = crd["spec"]
        assert spec["group"] == "kopf.dev"
        assert [v["name"] for v in spec["versions"]] == ["v1"]
        schema = spec["versions"][0]["schema"]["openAPIV3Schema"]
        assert schema["properties"]["status"] == {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        chart.validate(crd)


def test_kopf_peering_crds_are_installed_before_the_templates() -> None:
    """In crds/, so that Helm creates them before the peering objects of templates/."""
    with_crds = chart.render(chart.VALUE_SETS["ha"], include_crds=True)
    names = [m["metadata"]["name"] for m in chart.find(with_crds, "CustomResourceDefinition")]
    assert names[:2] == ["clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    without = chart.render(chart.VALUE_SETS["ha"])
    assert "clusterkopfpeerings.kopf.dev" not in {m["metadata"]["name"] for m in without}


def test_peering_objects_only_with_several_replicas() -> None:
    kinds = {"KopfPeering", "ClusterKopfPeering"}
    assert not [m for m in chart.render() if m["kind"] in kinds]
    assert [m["kind"] for m in chart.render(chart.VALUE_SETS["ha"]) if m["kind"] in kinds] == [
        "ClusterKopfPeering"
    ]
