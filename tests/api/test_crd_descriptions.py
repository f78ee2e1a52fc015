"""The CRD explains itself: every spec and status field carries a description.

``kubectl explain`` shows what the CRD's ``openAPIV3Schema`` says and nothing
else, so a field without a docstring in ``api.v1alpha1`` is a field a platform
engineer has to read the source for. These tests walk the generated schema,
the one ``make crds`` commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from license_report.api import crd, v1alpha1


def _root() -> dict[str, Any]:
    schema: dict[str, Any] = crd.definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _fields(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named field under ``node`` (object properties, through lists and maps)."""
    for name, child in node.get("properties", {}).items():
        yield f"{path}.{name}", child
        yield from _fields(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _fields(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _fields(node["additionalProperties"], f"{path}{{}}")


def _spec_and_status() -> list[tuple[str, dict[str, Any]]]:
    root = _root()["properties"]
    return [
        (path, node)
        for top in ("spec", "status")
        for path, node in [(top, root[top]), *_fields(root[top], top)]
    ]


def test_the_walk_reaches_the_nested_fields() -> None:
    paths = {path for path, _ in _spec_and_status()}

    assert {
        "spec.gateway.adminApi.tls.caSecretRef.key",
        "spec.gateway.selector.matchExpressions[].operator",
        "status.conditions[].lastTransitionTime",
        "status.history[].reportSha256",
    } <= paths
    assert len(paths) > 80


def test_every_spec_and_status_field_has_a_description() -> None:
    missing = [
        path
        for path, node in _spec_and_status()
        if not isinstance(node.get("description"), str) or not node["description"].strip()
    ]

    assert missing == [], f"add a docstring under these fields in api/v1alpha1.py: {missing}"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if value == "":
        return '""'
    return str(value)


def test_a_schema_default_is_the_default_the_description_states() -> None:
    """A default moved in the code and not in the prose would tell users something false."""
    wrong = [
        (path, node["default"], node.get("description"))
        for path, node in _spec_and_status()
        if "default" in node and f"Default: {_shown(node['default'])}" not in node["description"]
    ]

    assert wrong == []


def test_a_fields_own_description_wins_over_its_types() -> None:
    """A $ref'd model inlined at a field keeps the field's docstring, not the model's."""
    admin = _root()["properties"]["spec"]["properties"]["gateway"]["properties"]["adminApi"]
    token = admin["properties"]["tokenSecretRef"]["description"]
    ca = admin["properties"]["tls"]["properties"]["caSecretRef"]["description"]

    assert "Kong-Admin-Token" in token
    assert "CA bundle" in ca
    assert v1alpha1.SecretKeyRef.__doc__ not in (token, ca)


def test_descriptions_read_as_paragraphs_not_source_lines() -> None:
    """Docstrings wrap at the source's width; kubectl explain wraps at the terminal's."""
    broken = [
        path
        for path, node in _spec_and_status()
        if any("\n" in part for part in node["description"].split("\n\n"))
    ]

    assert broken == []


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = _root()["properties"]["status"]["properties"]["conditions"]

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    # The API server refuses a map key that may be absent (neither required nor defaulted).
    assert "type" in conditions["items"]["required"]
