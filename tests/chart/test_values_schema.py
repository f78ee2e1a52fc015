"""values.schema.json: refuses unknown keys at every level and wrong values, and matches
values.yaml key for key; values.yaml is commented field by field."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.helpers import chart

SCHEMA_FILE = chart.CHART / "values.schema.json"
VALUES_FILE = chart.CHART / "values.yaml"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def _refused(*args: str) -> str:
    result = chart.template(None, *args, check=False)
    assert result.returncode != 0, f"helm accepted {args}"
    return result.stderr


def test_a_negative_replica_count_is_refused() -> None:
    assert "replicaCount" in _refused("--set", "replicaCount=-1")


@pytest.mark.parametrize(
    "setting",
    [
        "unknownKey=1",
        "image.unknown=1",
        "rbac.unknown=true",
        "hashKey.unknown=x",
        "livenessProbe.unknown=1",
        "resources.unknown=1",
        "containerSecurityContext.capabilities.unknown=x",
        "affinity.nodeAffinity.unknown=x",
    ],
)
def test_an_unknown_key_is_refused_at_any_level(setting: str) -> None:
    assert "additional properties" in _refused("--set", setting)


@pytest.mark.parametrize(
    "setting",
    [
        "log.level=TRACE",
        "log.format=xml",
        "image.pullPolicy=Sometimes",
        "watchNamespaces[0]=Not_A_Namespace",
        "hashKey.existingSecret=Bad Name",
        "replicaCount=two",
        "retrySeconds=-5",
        "crds.enabled=maybe",
    ],
)
def test_a_wrong_value_is_refused(setting: str) -> None:
    _refused("--set", setting)


def test_a_repeated_watched_namespace_is_refused() -> None:
    result = chart.template({"watchNamespaces": ["kong", "kong"]}, check=False)
    assert result.returncode != 0
    assert "watchNamespaces" in result.stderr


def _objects(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "object" in (node.get("type") or []):
            yield path, node
        for key, child in node.items():
            yield from _objects(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _objects(child, f"{path}[{index}]")


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    """additionalProperties is false, or (free-form maps: labels, annotations,
    nodeSelector, resource quantities) a schema for the values: never absent or true."""
    objects = list(_objects(_schema()))
    assert len(objects) > 40
    for path, node in objects:
        extra = node.get("additionalProperties")
        assert extra is False or isinstance(extra, dict), path
        if isinstance(extra, dict):
            assert "properties" not in node, f"{path}: a map with fixed keys"


def _chart_keys(schema: dict[str, Any], values: Any, path: str = "") -> Iterator[str]:
    """Each path where the schema's own properties and values.yaml's keys must agree
    (Kubernetes-typed values, behind a $ref, are Kubernetes' business)."""
    properties = schema.get("properties")
    if properties is None:
        return
    assert isinstance(values, dict), path
    assert set(properties) == set(values), f"{path or '<top>'}: schema and values.yaml differ"
    for key, child in properties.items():
        yield f"{path}{key}"
        yield from _chart_keys(child, values[key], f"{path}{key}.")


def test_the_schema_and_values_yaml_have_the_same_keys() -> None:
    keys = list(_chart_keys(_schema(), yaml.safe_load(VALUES_FILE.read_text())))
    assert "hashKey.existingSecret" in keys


def test_kubernetes_typed_values_use_kubernetes_1_33_own_schemas() -> None:
    """The definitions are derived from kubernetes-validate's strict 1.33 schemas;
    UPDATE_CHART_SCHEMA=1 rewrites them (after a kubernetes-validate upgrade)."""
    schema = _schema()
    expected = chart.kubernetes_definitions()
    if os.environ.get("UPDATE_CHART_SCHEMA") == "1":
        schema["definitions"] = expected
        SCHEMA_FILE.write_text(json.dumps(schema, indent=2) + "\n")
    assert schema["definitions"] == expected


def test_the_defaults_satisfy_the_schema() -> None:
    import jsonschema

    jsonschema.Draft7Validator(_schema()).validate(yaml.safe_load(VALUES_FILE.read_text()))


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):")


def test_values_yaml_is_commented_field_by_field() -> None:
    """Every key of the chart's own (a comment line right above it); the fields inside
    Kubernetes-typed values (resources, security contexts) are Kubernetes' own."""
    kubernetes_typed = {
        key
        for key, node in _schema()["properties"].items()
        if "$ref" in node or "$ref" in node.get("items", {})
    }
    previous = ""
    stack: list[tuple[int, str]] = []
    missing = []
    for line in VALUES_FILE.read_text().splitlines():
        match = _KEY.match(line)
        if match:
            indent = len(match["indent"])
            stack = [(i, k) for i, k in stack if i < indent] + [(indent, match["key"])]
            inside_kubernetes_type = stack[0][1] in kubernetes_typed and len(stack) > 1
            if not inside_kubernetes_type and not previous.lstrip().startswith("#"):
                missing.append(".".join(k for _, k in stack))
        if line.strip():
            previous = line
    assert missing == []
