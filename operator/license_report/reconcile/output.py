"""Write the report ConfigMap: replaced whole, owned by its request.

A ConfigMap write is one API call, so a report is never half-written. It is
replaced (PUT), not patched, so a rerun leaves no stale tar from the last run.
A ConfigMap of that name that this request does not own is left alone.
"""

from __future__ import annotations

import base64
from typing import Any

from license_report.api import v1alpha1
from license_report.reconcile import kube
from license_report.report import packaging

SHA_ANNOTATION = f"{v1alpha1.GROUP}/report-sha256"
RUN_ANNOTATION = f"{v1alpha1.GROUP}/run"
REQUEST_LABEL = f"{v1alpha1.GROUP}/request"


class NotOurs(Exception):
    pass


def config_map_name(*, request: str, spec: v1alpha1.Spec) -> str:
    return spec.output.config_map_name or f"{request}-report"


def body(
    *, name: str, namespace: str, request: str, uid: str, run: str, package: packaging.Package
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                REQUEST_LABEL: request,
                "app.kubernetes.io/managed-by": "license-report-operator",
            },
            "annotations": {SHA_ANNOTATION: package.report_sha256, RUN_ANNOTATION: run},
            "ownerReferences": [
                {
                    "apiVersion": f"{v1alpha1.GROUP}/{v1alpha1.VERSION}",
                    "kind": v1alpha1.KIND,
                    "name": request,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {
            "report.json": package.report_json.decode(),
            "nodes.json": package.nodes_json.decode(),
        },
        "binaryData": {package.tar_name: base64.b64encode(package.tar_bytes).decode()},
    }


def _owned_by(existing: Any, uid: str) -> bool:
    return any(ref.uid == uid for ref in existing.metadata.owner_references or [])


async def write(*, clients: kube.Clients, config_map: dict[str, Any], uid: str) -> None:
    name = config_map["metadata"]["name"]
    namespace = config_map["metadata"]["namespace"]
    try:
        await kube.call(clients.core.create_namespaced_config_map, namespace, config_map)
        return
    except kube.ApiException as error:
        if error.status != 409:
            raise
    existing = await kube.call(clients.core.read_namespaced_config_map, name, namespace)
    if not _owned_by(existing, uid):
        raise NotOurs(
            f"ConfigMap {namespace}/{name} exists and is not owned by this request; "
            "delete it or set spec.output.configMapName"
        )
    # Optimistic concurrency: replace exactly the version read.
    config_map = {
        **config_map,
        "metadata": {
            **config_map["metadata"],
            "resourceVersion": existing.metadata.resource_version,
        },
    }
    await kube.call(clients.core.replace_namespaced_config_map, name, namespace, config_map)
