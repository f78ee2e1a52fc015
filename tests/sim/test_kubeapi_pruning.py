"""Custom resources are pruned and defaulted by their CRD's structural schema, as on a real server.

A real kube-apiserver drops every field its CRD does not declare and fills in
the schema's defaults on each write; an emulator that stored bodies as given
would let a misspelled status key pass every test and then vanish on a
cluster. These tests write through HTTP, as the operator and kubectl do, using
the project's generated CRD where the point is the product's schema.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from license_report.api import crd
from license_report_sandbox import kubeapi

Json = Any
GROUP, VERSION, PLURAL = "licensereport.io", "v1alpha1", "licensereportrequests"
LRR_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/kong/{PLURAL}"
MERGE = "application/merge-patch+json"
SELECTOR = {"matchLabels": {"app": "kong"}}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Json,
    *,
    content_type: str = "application/json",
    params: Mapping[str, str] | None = None,
) -> tuple[int, Json]:
    data = io.BytesIO(json.dumps(body).encode())
    headers = {"Content-Type": content_type}
    async with http.request(method, path, data=data, headers=headers, params=params) as response:
        return response.status, await response.json(content_type=None)


def lrr(name: str, spec: Json) -> dict[str, Json]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LicenseReportRequest",
        "metadata": {"name": name, "namespace": "kong"},
        "spec": spec,
    }


@pytest.fixture
def product_crd(cluster: kubeapi.KubeAPI) -> dict[str, Json]:
    definition = crd.definition()
    cluster.register_crd(definition)
    return definition


# --- pruning ----------------------------------------------------------------------------------


async def test_an_unknown_status_key_written_through_status_is_dropped(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    """What a misspelled key in the operator's status writes would meet on a cluster."""
    await call(kube_http, "POST", LRR_PATH, lrr("r1", {"gateway": {"selector": SELECTOR}}))
    patch = {
        "status": {
            "phase": "Running",
            "phse": "Running",
            "summary": {"gatewayPods": 3, "podsReachd": 2},
            "conditions": [
                {
                    "type": "Complete",
                    "status": "False",
                    "reason": "Running",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                    "observedGeneraton": 1,
                }
            ],
        }
    }

    status, patched = await call(
        kube_http, "PATCH", f"{LRR_PATH}/r1/status", patch, content_type=MERGE
    )

    assert status == 200
    assert patched["status"] == {
        "phase": "Running",
        "summary": {"gatewayPods": 3},
        "conditions": [
            {
                "type": "Complete",
                "status": "False",
                "reason": "Running",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
                "message": "",  # the schema's default for an absent message
            }
        ],
    }
    _, stored = await call(kube_http, "GET", f"{LRR_PATH}/r1", None)
    assert stored["status"] == patched["status"]


async def test_an_unknown_spec_key_is_dropped_and_changes_no_generation(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    spec = {"gateway": {"selector": SELECTOR, "maxConcurency": 8}, "shedule": "@daily"}

    status, created = await call(kube_http, "POST", LRR_PATH, lrr("r1", spec))

    assert status == 201
    assert "shedule" not in created["spec"]
    assert "maxConcurency" not in created["spec"]["gateway"]
    generation, version = created["metadata"]["generation"], created["metadata"]["resourceVersion"]
    status, patched = await call(
        kube_http, "PATCH", f"{LRR_PATH}/r1", {"spec": {"typo": True}}, content_type=MERGE
    )
    assert status == 200
    assert "typo" not in patched["spec"]
    # Nothing the server keeps changed: a no-op write, as on a real server.
    assert patched["metadata"]["generation"] == generation
    assert patched["metadata"]["resourceVersion"] == version


async def test_unknown_top_level_fields_go_and_metadata_stays(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    body = {**lrr("r1", {"gateway": {"selector": SELECTOR}}), "extra": {"a": 1}}
    body["metadata"]["labels"] = {"team": "platform"}

    _, created = await call(kube_http, "POST", LRR_PATH, body)

    assert "extra" not in created
    assert created["metadata"]["labels"] == {"team": "platform"}
    assert created["spec"]["gateway"]["selector"] == SELECTOR


async def test_strict_field_validation_refuses_unknown_fields_instead(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    """kubectl sends fieldValidation=Strict: a typo in a manifest fails as on a cluster."""
    spec = {"gateway": {"selector": SELECTOR, "maxConcurency": 8}}

    status, error = await call(
        kube_http, "POST", LRR_PATH, lrr("r1", spec), params={"fieldValidation": "Strict"}
    )

    assert status == 400
    assert error["reason"] == "BadRequest"
    assert 'strict decoding error: unknown field "spec.gateway.maxConcurency"' in error["message"]
    status, _ = await call(kube_http, "GET", f"{LRR_PATH}/r1", None)
    assert status == 404


async def test_preserve_unknown_fields_keeps_a_subtree(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession
) -> None:
    """``make_crd``'s open spec and status keep anything; the root's unknown fields still go."""
    cluster.register_crd(kubeapi.make_crd(group="example.io", kind="Thing", plural="things"))
    path = "/apis/example.io/v1/namespaces/kong/things"
    body = {
        "apiVersion": "example.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"anything": {"nested": [1, {"x": None}]}},
        "unknown": True,
    }

    _, created = await call(kube_http, "POST", path, body)
    status, patched = await call(
        kube_http, "PATCH", f"{path}/t/status", {"status": {"free": "form"}}, content_type=MERGE
    )

    assert created["spec"] == {"anything": {"nested": [1, {"x": None}]}}
    assert "unknown" not in created
    assert (status, patched["status"]) == (200, {"free": "form"})


# --- defaulting -------------------------------------------------------------------------------


async def test_schema_defaults_appear_where_fields_are_absent(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    spec = {
        "gateway": {"selector": SELECTOR, "adminApi": {"port": 8444}},
        "report": {"format": "kong-3.5"},
    }

    _, created = await call(kube_http, "POST", LRR_PATH, lrr("r1", spec))

    assert created["spec"] == {
        "gateway": {
            "selector": SELECTOR,
            "adminApi": {
                "port": 8444,
                # scheme has no default: it is derived from the pods' KONG_ADMIN_LISTEN.
                "timeoutSeconds": 5.0,
                "allowTokenOverHttp": False,
            },
            "maxConcurrency": 64,
        },
        # A default fills in fields of objects that are there; it never creates one
        # (datastore, license, output stay absent).
        # months has no default in the CRD (it follows the format, in code); hashNames has.
        "report": {"format": "kong-3.5", "hashNames": True},
        "historyLimit": 24,
        "suspend": False,
    }


async def test_a_given_value_is_kept_over_the_default(
    kube_http: aiohttp.ClientSession, product_crd: Json
) -> None:
    spec = {"gateway": {"selector": SELECTOR, "maxConcurrency": 8}, "suspend": True}

    _, created = await call(kube_http, "POST", LRR_PATH, lrr("r1", spec))

    assert (created["spec"]["gateway"]["maxConcurrency"], created["spec"]["suspend"]) == (8, True)


def _nullable_crd() -> dict[str, Json]:
    crd_body = kubeapi.make_crd(group="example.io", kind="Knob", plural="knobs")
    crd_body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = {
        "type": "object",
        "properties": {
            "defaulted": {"type": "integer", "default": 7},
            "plain": {"type": "string"},
            "nullable": {"type": "string", "nullable": True, "default": "x"},
            "map": {"type": "object", "additionalProperties": {"type": "integer", "default": 1}},
            "open": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {
                    "known": {"type": "object", "properties": {"a": {"type": "string"}}}
                },
            },
        },
    }
    return crd_body


async def test_nulls_follow_the_structural_defaulting_rules(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession
) -> None:
    """A non-nullable null with a default gets the default, without one it goes; a nullable
    null stays. Declared fields under preserve-unknown-fields are still pruned."""
    cluster.register_crd(_nullable_crd())
    path = "/apis/example.io/v1/namespaces/kong/knobs"
    spec = {
        "defaulted": None,
        "plain": None,
        "nullable": None,
        "map": {"a": None, "b": 5},
        "open": {"free": 1, "known": {"a": "kept", "b": "pruned"}},
    }
    body = {"apiVersion": "example.io/v1", "kind": "Knob", "metadata": {"name": "k"}, "spec": spec}

    _, created = await call(kube_http, "POST", path, body)

    assert created["spec"] == {
        "defaulted": 7,
        "nullable": None,
        "map": {"a": 1, "b": 5},
        "open": {"free": 1, "known": {"a": "kept"}},
    }
