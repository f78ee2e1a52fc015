"""The CRD: generated from the models, structural, and validating what it should."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import jsonschema
import pydantic
import pytest
import yaml

from license_report.api import crd, v1alpha1

ROOT = pathlib.Path(__file__).parents[2]
CRD_FILE = ROOT / "crds" / "licensereportrequests.licensereport.io.yaml"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd.definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _errors(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(_schema())
    return [
        ".".join(str(p) for p in e.absolute_path) + ": " + e.message
        for e in validator.iter_errors(obj)
    ]


def _request(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "licensereport.io/v1alpha1",
        "kind": "LicenseReportRequest",
        "metadata": {"name": "r", "namespace": "kong"},
        "spec": spec,
    }


GOOD = {"gateway": {"selector": {"matchLabels": {"app.kubernetes.io/name": "kong"}}}}


def test_the_committed_crd_is_the_generated_one() -> None:
    assert CRD_FILE.read_text() == crd.to_yaml(), "crds/ is stale: run `make crds`"


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "type" in node or "properties" in node:
            yield path, node
        for key, child in node.get("properties", {}).items():
            yield from _walk(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            yield from _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _walk(node["additionalProperties"], f"{path}{{}}")


def test_the_schema_is_structural() -> None:
    for path, node in _walk(_schema()):
        assert "type" in node, f"{path} has no type"
        for banned in (
            "$ref",
            "anyOf",
            "oneOf",
            "allOf",
            "x-kubernetes-preserve-unknown-fields",
            "title",
        ):
            assert banned not in node, f"{path} carries {banned}"


def test_printer_columns_short_name_and_status_subresource() -> None:
    version = crd.definition()["spec"]["versions"][0]
    names = [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c]
    assert names == ["Phase", "Requests", "Services", "Pods", "Age"]
    assert version["subresources"] == {"status": {}}
    assert crd.definition()["spec"]["names"]["shortNames"] == ["lrr"]


def test_a_minimal_request_is_valid_and_gets_the_documented_defaults() -> None:
    assert _errors(_request(GOOD)) == []
    spec = v1alpha1.Spec.model_validate(GOOD)
    # What can be derived from the pods has no default in the CRD: a stored default could
    # not be told from an explicit value, and would override what the pods say.
    assert spec.gateway.admin_api.scheme is None
    assert (spec.gateway.admin_api.port, spec.gateway.admin_api.port_name) == (None, None)
    schema = _schema()["properties"]["spec"]["properties"]
    postgres = schema["datastore"]["properties"]["postgres"]["properties"]
    assert [f for f, p in postgres.items() if "default" in p] == []
    assert "default" not in schema["gateway"]["properties"]["adminApi"]["properties"]["scheme"]
    assert spec.gateway.admin_api.timeout_seconds == 5
    assert spec.gateway.max_concurrency == 64
    # format and months have no default in the CRD: the API server would store it in
    # every object, and it could no longer follow the fleet's version. The code's is auto.
    assert (spec.report.months, spec.report.format) == (None, None)
    assert spec.report.chosen_format == "auto"
    assert spec.report.hash_names is True
    assert spec.signing is None
    assert spec.datastore is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec: 'gateway' is a required property"),
        ({"gateway": {}}, "spec.gateway: 'selector' is a required property"),
        ({**GOOD, "report": {"months": 0}}, "spec.report.months"),
        ({**GOOD, "report": {"months": 61}}, "spec.report.months"),
        ({"gateway": {**GOOD["gateway"], "adminApi": {"port": 0}}}, "spec.gateway.adminApi.port"),
        (
            {"gateway": {**GOOD["gateway"], "adminApi": {"port": 70000}}},
            "spec.gateway.adminApi.port",
        ),
        (
            {"gateway": {**GOOD["gateway"], "adminApi": {"scheme": "ftp"}}},
            "spec.gateway.adminApi.scheme",
        ),
        (
            {"gateway": {**GOOD["gateway"], "adminApi": {"tokenSecretRef": {"name": "t"}}}},
            "spec.gateway.adminApi.tokenSecretRef: 'key' is a required property",
        ),
        (
            {**GOOD, "datastore": {"postgres": {"host": "db", "sslMode": "maybe"}}},
            "spec.datastore.postgres.sslMode",
        ),
        (
            {**GOOD, "datastore": {"postgres": {"port": 0}}},
            "spec.datastore.postgres.port",
        ),
        ({**GOOD, "output": {"configMapName": "Not_A_Name"}}, "spec.output.configMapName"),
        ({**GOOD, "report": {"format": "kong-3.4"}}, "spec.report.format"),
        (
            {**GOOD, "signing": {"secretRef": {"name": "report-signing"}}},
            "spec.signing.secretRef: 'key' is a required property",
        ),
        ({**GOOD, "signing": {}}, "spec.signing: 'secretRef' is a required property"),
        (
            {**GOOD, "license": {"secretRef": {}}},
            "spec.license.secretRef: 'name' is a required property",
        ),
    ],
)
def test_bad_requests_are_rejected_naming_the_field(spec: dict[str, Any], field: str) -> None:
    errors = _errors(_request(spec))
    assert any(error.startswith(field) for error in errors), errors
    with pytest.raises(pydantic.ValidationError):
        v1alpha1.Spec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"gateway": {"selector": {}}}, "matchLabels or matchExpressions"),
        (
            {"gateway": {**GOOD["gateway"], "adminApi": {"port": 8001, "portName": "admin"}}},
            "not both",
        ),
        (
            {"gateway": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}},
            "needs at least one value",
        ),
        ({**GOOD, "report": {"format": "kong-3.5", "months": 24}}, "12 months"),
        (
            {"gateway": {**GOOD["gateway"], "namespace": "kong", "namespaces": ["kong"]}},
            "namespace or namespaces, not both",
        ),
    ],
)
def test_cross_field_rules_the_operator_enforces(spec: dict[str, Any], words: str) -> None:
    # The API server checks these with the CRD's CEL rules; the emulator does
    # not run CEL, so the operator's own parsing must say the same.
    with pytest.raises(pydantic.ValidationError, match=words):
        v1alpha1.Spec.model_validate(spec)


def test_kong_3_5_with_its_own_window_is_valid_and_its_rule_is_in_the_crd() -> None:
    spec = {
        **GOOD,
        "report": {"format": "kong-3.5"},
        "signing": {"secretRef": {"name": "s", "key": "k"}},
    }
    assert _errors(_request(spec)) == []
    parsed = v1alpha1.Spec.model_validate(spec)
    assert (parsed.report.format, parsed.report.months) == ("kong-3.5", None)
    assert parsed.signing is not None
    assert parsed.signing.secret_ref.key == "k"
    report = _schema()["properties"]["spec"]["properties"]["report"]
    (rule,) = report["x-kubernetes-validations"]
    assert "self.months == 12" in rule["rule"]
    described = report["properties"]["format"]
    assert {key: value for key, value in described.items() if key != "description"} == {
        "type": "string", "enum": ["auto", "kong-2.7", "kong-3.5"],
    }  # fmt: skip
    assert "default" not in report["properties"]["months"]
    assert report["properties"]["hashNames"]["default"] is True


def _examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "LicenseReportRequest":
                found.append((f"{path.name}:{doc['metadata']['name']}", doc))
    return found


@pytest.mark.parametrize(("name", "doc"), _examples(), ids=[n for n, _ in _examples()])
def test_every_example_is_valid(name: str, doc: dict[str, Any]) -> None:
    assert _errors(doc) == []
    v1alpha1.Spec.model_validate(doc["spec"])


def test_there_are_examples() -> None:
    assert len(_examples()) >= 2
