"""The least OpenAPI v3 for ``kubectl apply`` to validate server-side and ``kubectl explain``.

kubectl validates by default (``--validate=strict``). It first asks
``/openapi/v3`` whether the server takes the ``fieldValidation`` query
parameter for the object's kind -- a PATCH operation tagged with the kind's
``x-kubernetes-group-version-kind`` that lists the parameter -- and if so sends
``fieldValidation=Strict`` and leaves validation to the server. Without any
OpenAPI document it refuses to apply ("failed to download openapi").

So each group-version gets a document with one PATCH operation per kind.
Without a request body that offers strategic merge patch, kubectl computes
apply patches the way it does without OpenAPI: from its compiled-in types for
built-ins (strategic merge) and as a JSON merge patch for custom resources,
which is also what it does against a real server's CRDs.

``kubectl explain`` reads the same documents: it looks in
``components.schemas`` for the schema tagged with the kind's
``x-kubernetes-group-version-kind`` and prints its fields' descriptions. A
custom resource's schema is its CRD's ``openAPIV3Schema``, published as a real
server does under the reversed group's name
(``io.licensereport.v1alpha1.LicenseReportRequest``). Built-ins carry no
schema here. The server prunes and defaults by these schemas but does not
validate against them (see the package docstring).
"""

from __future__ import annotations

import copy
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


def schema_name(kind: Kind) -> str:
    """The name a real server gives a kind's schema: ``io.licensereport.v1alpha1.Kind``."""
    return ".".join([*reversed(kind.group.split(".")), kind.version, kind.kind])


def document(kinds: Iterable[Kind], group: str, version: str) -> Body | None:
    """The OpenAPI v3 document of one group-version, or None if nothing is served there."""
    paths: Body = {}
    schemas: Body = {}
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
        if kind.schema is not None:
            schema = copy.deepcopy(dict(kind.schema))
            schema["x-kubernetes-group-version-kind"] = [
                {"group": group, "version": version, "kind": kind.kind}
            ]
            schemas[schema_name(kind)] = schema
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
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
