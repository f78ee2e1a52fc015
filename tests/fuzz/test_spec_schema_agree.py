"""The CRD schema and the spec models agree on specs neither was written for (hypothesis).

Valid specs are mutated (fields set to edge values or random JSON, or
deleted), giving objects on both sides of every constraint. Whatever the
schema accepts, the models parse without an unhandled exception (a
ValidationError only for the cross-field rules the API server checks with
CEL), and what a parsed spec feeds is computed; whatever the schema rejects,
the models reject too, each problem located at a field.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
import pydantic
from hypothesis import example, given, settings
from hypothesis import strategies as st

from license_report.api import crd, v1alpha1
from license_report.reconcile import discovery, output

_ROOT = crd.definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
# OpenAPI v3.0, as CRDs use it, is JSON Schema draft 4 (boolean exclusiveMinimum).
VALIDATOR = jsonschema.Draft4Validator(_ROOT["properties"]["spec"])
CEL_RULES = (
    "matchLabels or matchExpressions",
    "not both",
    "at least one value",
    "takes no values",
    "reports 12 months",
)
# Checked by the operator only (no schema can say it): the request then ends Failed,
# InvalidSpec, naming the field.
MODEL_ONLY_RULES = ("cron expression", "IANA time zone")

BASES: list[dict[str, Any]] = [
    {"gateway": {"selector": {"matchLabels": {"app.kubernetes.io/name": "kong"}}}},
    {
        "gateway": {
            "selector": {
                "matchExpressions": [{"key": "app", "operator": "In", "values": ["kong"]}]
            },
            "namespace": "kong",
            "adminApi": {
                "portName": "admin-tls",
                "scheme": "https",
                "timeoutSeconds": 3,
                "tokenSecretRef": {"name": "t", "key": "token"},
                "tls": {"caSecretRef": {"name": "ca", "key": "ca.crt"}, "serverName": "kong"},
            },
            "maxConcurrency": 8,
        },
        "datastore": {"postgres": {"host": "db", "passwordSecretRef": {"name": "p", "key": "pw"}}},
        "license": {"secretRef": {"name": "lic"}},
        "report": {"months": 24},
        "output": {"configMapName": "out"},
        "schedule": "@monthly",
        "timeZone": "Europe/Berlin",
        "historyLimit": 24,
    },
]
PATHS: list[tuple[str, ...]] = [
    ("gateway",), ("gateway", "selector"), ("gateway", "selector", "matchLabels"),
    ("gateway", "selector", "matchExpressions"), ("gateway", "namespace"), ("gateway", "adminApi"),
    ("gateway", "adminApi", "port"), ("gateway", "adminApi", "portName"),
    ("gateway", "adminApi", "scheme"), ("gateway", "adminApi", "timeoutSeconds"),
    ("gateway", "adminApi", "tokenSecretRef"), ("gateway", "adminApi", "tokenSecretRef", "key"),
    ("gateway", "maxConcurrency"), ("datastore",), ("datastore", "postgres"),
    ("datastore", "postgres", "host"), ("datastore", "postgres", "port"),
    ("datastore", "postgres", "sslMode"), ("license", "secretRef"),
    ("license", "secretRef", "name"), ("report", "months"), ("report", "format"),
    ("signing",), ("signing", "secretRef"), ("signing", "secretRef", "name"),
    ("output", "configMapName"),
    ("schedule",), ("timeZone",), ("historyLimit",), ("suspend",), ("unknown",),
]  # fmt: skip
EDGES: st.SearchStrategy[Any] = st.sampled_from(
    [None, 0, 1, -1, 8001, 65535, 65536, 1024, 1025, 60, 61, 0.5, "", "admin", "Admin_Port",
     "https", "ftp", "prefer", "verify-full", "kong.svc", "a" * 300, [], {}, {"name": "x"},
     "0 3 1 * *", "@quarterly", "61 * * * *", "UTC", "Mars/Olympus",
     {"name": "x", "key": "k"}, True, "12", "kong-3.5", "kong-2.7", "kong-3.4"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)  # fmt: skip
DELETE = "<delete>"


def _mutate(base: dict[str, Any], change: tuple[tuple[str, ...], Any]) -> dict[str, Any]:
    path, value = change
    spec: dict[str, Any] = json.loads(json.dumps(base))
    node = spec
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if value == DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return spec


MUTATED = st.builds(
    lambda base, changes: functools.reduce(_mutate, changes, base),
    st.sampled_from(BASES),
    st.lists(
        st.tuples(st.sampled_from(PATHS), EDGES | JSON | st.just(DELETE)), min_size=1, max_size=3
    ),
)


def _pruned(value: Any, schema: Any = _ROOT["properties"]["spec"]) -> Any:
    """As the API server stores it: fields the structural schema does not know, and
    nulls in fields not marked nullable, are pruned before validation."""
    if isinstance(value, dict) and schema.get("type") == "object":
        known = schema.get("properties")
        extra = schema.get("additionalProperties")
        return {
            key: _pruned(child, known[key] if known else extra)
            for key, child in value.items()
            if child is not None
            and ((known is not None and key in known) or (known is None and extra))
        }
    if isinstance(value, list) and schema.get("type") == "array":
        return [_pruned(child, schema["items"]) for child in value]
    return value


def _parse(spec: dict[str, Any]) -> v1alpha1.Spec | list[Any]:
    try:
        return v1alpha1.Spec.model_validate(spec)
    except pydantic.ValidationError as error:
        return list(error.errors(include_input=False))


@settings(max_examples=400, deadline=None)
@given(MUTATED)
# Found by hypothesis: under draft 2020-12, OpenAPI's boolean exclusiveMinimum reads as 1.
@example(
    {"gateway": {"selector": {"matchLabels": {"a": "b"}}, "adminApi": {"timeoutSeconds": 1.0}}}
)
@example(
    {
        "gateway": {"selector": {"matchLabels": {"a": "b"}}},
        "datastore": {"postgres": {"host": "db", "port": True}},
    }
)
# A rule only CEL checks, rarely drawn: kong-3.5 with months other than 12.
@example(
    {
        "gateway": {"selector": {"matchLabels": {"a": "b"}}},
        "report": {"format": "kong-3.5", "months": 24},
    }
)
def test_schema_and_models_agree_on_mutated_specs(spec: dict[str, Any]) -> None:
    spec = _pruned(spec)
    accepted_by_schema = VALIDATOR.is_valid(spec)
    parsed = _parse(spec)
    if isinstance(parsed, v1alpha1.Spec):
        assert accepted_by_schema, f"the models accept what the schema rejects: {spec!r}"
        assert isinstance(discovery.label_selector(parsed.gateway.selector), str)
        assert output.config_map_name(request="r", spec=parsed)
        return
    assert parsed, "a rejection names its problems"
    assert all(problem["loc"] or problem["type"] == "model_type" for problem in parsed)
    if accepted_by_schema:
        messages = " ".join(problem["msg"] for problem in parsed)
        assert any(rule in messages for rule in CEL_RULES + MODEL_ONLY_RULES), (spec, messages)


def test_the_mutations_reach_both_sides() -> None:
    # The property above means little if every mutated spec lands on one side.
    verdicts = {VALIDATOR.is_valid(_mutate(BASES[0], change)) for change in [
        (("report", "months"), 12), (("report", "months"), 0)]}  # fmt: skip
    assert verdicts == {True, False}
