"""Generate the CustomResourceDefinition from the pydantic models.

Pydantic's JSON Schema is close to what Kubernetes wants but not the same: a
CRD needs a *structural* schema, with every ``$ref`` inlined, no ``anyOf``
with ``null`` for optional fields (optional means "not in ``required``"), no
titles, and ``type`` on every node. ``structural()`` does that translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from license_report.api import v1alpha1

# JSON Schema keywords a structural OpenAPI v3 schema may keep as they are.
_KEPT = (
    "type", "description", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "format", "default",
    "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
)  # fmt: skip

Schema = dict[str, Any]


def _prose(text: str) -> str:
    """A docstring as a description: each paragraph on one line, as controller-gen writes
    Go doc comments (``kubectl explain`` wraps them to the terminal itself)."""
    paragraphs = (" ".join(part.split()) for part in text.strip().split("\n\n"))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = {
            **defs[node["$ref"].rsplit("/", 1)[1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    return node


def structural(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Schema:
    node = _resolve(node, defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {node['anyOf']} structurally")
        merged = {**_resolve(options[0], defs), **{k: v for k, v in node.items() if k != "anyOf"}}
        if merged.get("default", ...) is None:
            del merged["default"]  # "null" means absent
        return structural(merged, defs)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    out: Schema = {key: node[key] for key in _KEPT if key in node}
    if "description" in out:
        out["description"] = _prose(out["description"])
    if isinstance(out.get("default"), dict | list):
        del out["default"]  # object defaults come from the operator, not the API server
    if out.get("type") == "number" and isinstance(out.get("default"), int):
        out["default"] = float(out["default"])
    # JSON Schema's numeric exclusive bounds are OpenAPI v3's boolean flags on
    # minimum/maximum; the API server refuses a CRD that uses the former.
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(out.get(flag), int | float) and not isinstance(out.get(flag), bool):
            out[bound] = out.pop(flag)
            out[flag] = True
    if "enum" in node and "type" not in out:
        out["type"] = "string"
    if node.get("type") == "object" or "properties" in node:
        out["type"] = "object"
        if "properties" in node:
            out["properties"] = {
                name: structural(child, defs) for name, child in node["properties"].items()
            }
        if node.get("required"):
            out["required"] = list(node["required"])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = structural(extra, defs)
    if node.get("type") == "array":
        out["items"] = structural(node["items"], defs)
    return out


def _schema(model: type[v1alpha1._Model]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Requests", "type": "integer", "jsonPath": ".status.summary.requestCount"},
    {"name": "Services", "type": "integer", "jsonPath": ".status.summary.servicesCount"},
    {"name": "Pods", "type": "integer", "jsonPath": ".status.summary.gatewayPods"},
    {
        "name": "Reached",
        "type": "integer",
        "jsonPath": ".status.summary.podsReached",
        "priority": 1,
    },
    {"name": "Kong", "type": "string", "jsonPath": ".status.summary.kongVersion", "priority": 1},
    {"name": "Report", "type": "string", "jsonPath": ".status.reportConfigMap", "priority": 1},
    {"name": "Next", "type": "string", "jsonPath": ".status.nextScheduleTime", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


# What every kind's apiVersion and kind mean (the wording of Kubernetes' own types, short).
_API_VERSION = "The versioned schema of this object: licensereport.io/v1alpha1."
_KIND = "The REST resource this object represents: LicenseReportRequest."


def to_yaml() -> str:
    import yaml  # PyYAML comes with the kubernetes client

    header = "# Generated from license_report.api.v1alpha1 by `license-report crd`: do not edit.\n"
    return header + yaml.safe_dump(definition(), sort_keys=False, width=100)


def definition() -> dict[str, Any]:
    """The whole CustomResourceDefinition, as committed in ``crds/``."""
    spec = _schema(v1alpha1.Spec)
    status = _schema(v1alpha1.Status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{v1alpha1.PLURAL}.{v1alpha1.GROUP}"},
        "spec": {
            "group": v1alpha1.GROUP,
            "names": {
                "kind": v1alpha1.KIND,
                "listKind": f"{v1alpha1.KIND}List",
                "plural": v1alpha1.PLURAL,
                "singular": v1alpha1.SINGULAR,
                "shortNames": list(v1alpha1.SHORT_NAMES),
                "categories": list(v1alpha1.CATEGORIES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": v1alpha1.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A request for a Kong Gateway license-usage report.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string", "description": _API_VERSION},
                                "kind": {"type": "string", "description": _KIND},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }
