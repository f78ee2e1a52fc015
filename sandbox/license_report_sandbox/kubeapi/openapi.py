"""The least OpenAPI v3 that lets ``kubectl apply`` (and create, replace) validate server-side.

kubectl validates by default (``--validate=strict``). It first asks
``/openapi/v3`` whether the server takes the ``fieldValidation`` query
parameter for the object's kind -- a PATCH operation tagged with the kind's
``x-kubernetes-group-version-kind`` that lists the parameter -- and if so sends
``fieldValidation=Strict`` and leaves validation to the server. Without any
OpenAPI document it refuses to apply ("failed to download openapi").

So each group-version gets a document with one PATCH operation per kind and
no schemas. Without a request body that offers strategic merge patch, kubectl
computes apply patches the way it does without OpenAPI: from its compiled-in
types for built-ins (strategic merge) and as a JSON merge patch for custom
resources, which is also what it does against a real server's CRDs. The
server does not validate against schemas (see the package docstring).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from license_report_sandbox.kubeapi.resources import Body, Kind

ROOT = "/openapi/v3"
_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def document(kinds: Iterable[Kind], group: str, version: str) -> Body | None:
    """The OpenAPI v3 document of one group-version, or None if nothing is served there."""
    paths: Body = {}
    for kind in sorted(kinds, key=lambda k: k.plural):
        if (kind.group, kind.version) != (group, version):
            continue
        scope = "/namespaces/{namespace}" if kind.namespaced else ""
        path = f"/{_prefix(group, version)}{scope}/{kind.plural}/{{name}}"
        paths[path] = {
            "patch": {
                "operationId": f"patch{kind.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": group,
                    "version": version,
                    "kind": kind.kind,
                },
                "parameters": _PARAMETERS,
                "responses": {"200": {"description": "OK"}},
            }
        }
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root(kinds: Iterable[Kind]) -> Body:
    """``/openapi/v3``: where each group-version's document is, with a content hash.

    kubectl caches documents by that hash, so it changes whenever a CRD adds
    or changes a kind.
    """
    kinds = list(kinds)
    entries: Body = {}
    for group, version in sorted({(k.group, k.version) for k in kinds}):
        doc = document(kinds, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        prefix = _prefix(group, version)
        entries[prefix] = {"serverRelativeURL": f"{ROOT}/{prefix}?hash={digest}"}
    return {"paths": entries}


def split(path: str) -> tuple[str, str] | None:
    """``/openapi/v3/apis/g/v`` -> (g, v); ``/openapi/v3/api/v1`` -> ("", "v1"); else None."""
    parts = path.removeprefix(ROOT + "/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None
