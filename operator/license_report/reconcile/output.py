"""Write the report ConfigMap: replaced whole, owned by its request, never over 1 MiB.

A ConfigMap write is one API call, so a report is never half-written. It is
replaced (PUT), not patched, so a rerun leaves no stale tar from the last run.
A ConfigMap of that name that this request does not own is left alone.

The API server refuses a ConfigMap whose data passes 1 MiB, and ``nodes.json``
takes about 540 bytes per gateway pod (keyed hashes, which do not compress),
so past ~1,800 pods it cannot sit beside ``report.json``. It is then cut into
*part* ConfigMaps, one ``nodes.json`` list each, and the report ConfigMap
holds ``nodes-index.json`` naming them in order with their SHA-256.

Parts are double-buffered: ``<name>-nodes-a-<i>`` and ``<name>-nodes-b-<i>``.
A run writes the set the current report does not name, then replaces the
report ConfigMap, which switches sets in one call; so a run that fails on the
way leaves the previous report whole, parts included. Parts of the set no
longer named are then emptied. Nothing is ever deleted (the operator has no
``delete`` on anything): at most twice the parts of the largest report exist,
owned by the request and collected with it.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import logging
from typing import Any

from license_report.api import defaults, errors, v1alpha1
from license_report.reconcile import kube
from license_report.report import packaging, signing

SHA_ANNOTATION = f"{v1alpha1.GROUP}/report-sha256"
RUN_ANNOTATION = f"{v1alpha1.GROUP}/run"
REQUEST_LABEL = f"{v1alpha1.GROUP}/request"
#: On a part: the name of the report ConfigMap whose nodes it holds.
PART_LABEL = f"{v1alpha1.GROUP}/nodes-of"
NODES_INDEX = "nodes-index.json"
#: With spec.signing: the Ed25519 signature of report.json (base64) and the public key (PEM).
SIGNATURE_KEY = "report.json" + signing.SIGNATURE_SUFFIX
PUBLIC_KEY_KEY = "report.json" + signing.PUBLIC_KEY_SUFFIX
#: On a schedule's report ConfigMap: the history ConfigMap holding the same report.
LATEST_ANNOTATION = f"{v1alpha1.GROUP}/latest"
#: On a history ConfigMap whose nodes.json was too large to keep beside it.
NODES_ANNOTATION = f"{v1alpha1.GROUP}/nodes"
HISTORY_LABEL = f"{v1alpha1.GROUP}/history"

#: The API server's limit on a ConfigMap's data (``core.MaxSecretSize``); what we put in
#: one is ``defaults.CONFIG_MAP_BUDGET``, below it.
CONFIG_MAP_LIMIT = 1024 * 1024
SLOTS = ("a", "b")

logger = logging.getLogger(__name__)


class NotOurs(errors.ReportError):
    reason = errors.Reason.CONFIG_MAP_NOT_OWNED


def config_map_name(*, request: str, spec: v1alpha1.Spec) -> str:
    return spec.output.config_map_name or f"{request}-report"


@dataclasses.dataclass(frozen=True)
class Layout:
    """The report ConfigMap, and the ``nodes.json`` parts it will name (none for most fleets).

    Parts get their names (and the report its ``nodes-index.json``) at write
    time, from the set the current report does not use.
    """

    main: dict[str, Any]
    chunks: list[bytes]

    def named(self, slot: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not self.chunks:
            return self.main, []
        meta = self.main["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        owner = meta["ownerReferences"][0]
        parts: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        for number, chunk in enumerate(self.chunks):
            part_name = part_name_for(name, slot=slot, number=number)
            parts.append(
                _config_map(
                    metadata=_metadata(
                        name=part_name, namespace=namespace, request=owner["name"],
                        uid=owner["uid"], labels={PART_LABEL: name},
                    ),
                    data={"nodes.json": chunk.decode()},
                )
            )  # fmt: skip
            index.append(
                {
                    "configMap": part_name,
                    "pods": len(json.loads(chunk)),
                    "sha256": hashlib.sha256(chunk).hexdigest(),
                }
            )
        nodes_index = {"pods": sum(entry["pods"] for entry in index), "parts": index}
        main = {**self.main, "data": {**self.main["data"], NODES_INDEX: _dumps(nodes_index)}}
        return main, parts


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _config_map(*, metadata: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _metadata(
    *, name: str, namespace: str, request: str, uid: str, labels: dict[str, str]
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {
            REQUEST_LABEL: request,
            "app.kubernetes.io/managed-by": "license-report-operator",
            **labels,
        },
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
    }


def layout(
    *,
    name: str,
    namespace: str,
    request: str,
    uid: str,
    run: str,
    package: packaging.Package,
    budget: int = defaults.CONFIG_MAP_BUDGET,
) -> Layout:
    """The ConfigMaps of one report: ``nodes.json`` inline when it fits, else in parts."""
    metadata = _metadata(name=name, namespace=namespace, request=request, uid=uid, labels={})
    metadata["annotations"] = {SHA_ANNOTATION: package.report_sha256, RUN_ANNOTATION: run}
    main = _config_map(metadata=metadata, data={"report.json": package.report_json.decode()})
    if package.signature is not None:
        # Beside the report they sign: the base64 signature and the public key (PEM).
        main["data"][SIGNATURE_KEY] = package.signature.signature_text.decode()
        main["data"][PUBLIC_KEY_KEY] = package.signature.public_key_pem.decode()
    if package.metering_json is not None:
        main["data"][packaging.METERING_MEMBER] = package.metering_json.decode()
    main["binaryData"] = {package.tar_name: base64.b64encode(package.tar_bytes).decode()}
    room = budget - sum(len(value) for value in main["data"].values())
    room -= len(package.tar_bytes) + 4096
    if len(package.nodes_json) <= room:
        main["data"]["nodes.json"] = package.nodes_json.decode()
        return Layout(main=main, chunks=[])
    return Layout(main=main, chunks=packaging.split_nodes(package.nodes_json, budget=budget))


def history_name(config_map: str, schedule_time: str) -> str:
    """``<report ConfigMap>-<YYYYMMDDHHMM>`` (the schedule time, UTC): sorts by time."""
    stamp = "".join(ch for ch in schedule_time if ch.isdigit())[:12]
    return config_map[: 253 - len(stamp) - 1].rstrip("-.") + "-" + stamp


def history_copy(layout: Layout, *, name: str) -> dict[str, Any]:
    """A schedule's kept copy of a report: report.json, the tar, and nodes.json when it
    fits beside them (a fleet's nodes.json in parts stays with the latest report only)."""
    main = layout.main
    metadata = {
        **main["metadata"],
        "name": name,
        "labels": {**main["metadata"]["labels"], HISTORY_LABEL: "true"},
        "annotations": dict(main["metadata"]["annotations"]),
    }
    if layout.chunks:
        metadata["annotations"][NODES_ANNOTATION] = (
            "nodes.json was too large to keep in history; the latest report has it"
        )
    return {**main, "metadata": metadata, "data": dict(main["data"])}


async def write_history(*, clients: kube.Clients, config_map: dict[str, Any], uid: str) -> None:
    """Create a history ConfigMap (replace it when a retried run wrote it already)."""
    await _put(clients, config_map, uid)


async def delete_history(*, clients: kube.Clients, name: str, namespace: str, uid: str) -> None:
    """Delete a history ConfigMap of this request; one already gone, or not ours, is left."""
    existing = await _read(clients, name, namespace)
    if existing is None or not _owned_by(existing, uid):
        return
    options = {"preconditions": {"uid": existing.metadata.uid}}
    # Gone already, or replaced by a new one since read: left alone.
    with contextlib.suppress(kube.NotFound, kube.Conflict):
        await kube.call(clients.core.delete_namespaced_config_map, name, namespace, body=options)


def part_name_for(name: str, *, slot: str, number: int) -> str:
    suffix = f"-nodes-{slot}-{number}"
    return name[: 253 - len(suffix)].rstrip("-.") + suffix


def _owned_by(existing: Any, uid: str) -> bool:
    return any(ref.uid == uid for ref in existing.metadata.owner_references or [])


def _check_ours(existing: Any, uid: str, *, namespace: str, name: str) -> None:
    if not _owned_by(existing, uid):
        raise NotOurs(
            f"ConfigMap {namespace}/{name} exists and is not owned by this request; "
            "delete it or set spec.output.configMapName"
        )


def part_names(config_map: Any) -> list[str]:
    """The part ConfigMaps a report ConfigMap names (as the API returns it)."""
    index = (config_map.data or {}).get(NODES_INDEX)
    if index is None:
        return []
    return [str(entry["configMap"]) for entry in json.loads(index)["parts"]]


def _slot_of(names: list[str]) -> str | None:
    for slot in SLOTS:
        if names and names[0].rsplit("-", 2)[-2] == slot:
            return slot
    return None


async def _read(clients: kube.Clients, name: str, namespace: str) -> Any | None:
    try:
        return await kube.call(clients.core.read_namespaced_config_map, name, namespace)
    except kube.NotFound:
        return None


async def _put(
    clients: kube.Clients, config_map: dict[str, Any], uid: str, *, existing: Any | None = None
) -> None:
    """Create, or replace exactly the version read (optimistic concurrency), if it is ours.

    ``existing``: the object as already read; ``None`` reads it when create finds it taken.
    """
    name, namespace = config_map["metadata"]["name"], config_map["metadata"]["namespace"]
    if existing is None:
        try:
            await kube.call(clients.core.create_namespaced_config_map, namespace, config_map)
            return
        except kube.Conflict:
            pass
        existing = await _read(clients, name, namespace)
        if existing is None:
            raise kube.Conflict(status=409, http_reason=f"ConfigMap {namespace}/{name} is changing")
    _check_ours(existing, uid, namespace=namespace, name=name)
    metadata = {**config_map["metadata"], "resourceVersion": existing.metadata.resource_version}
    await kube.call(
        clients.core.replace_namespaced_config_map,
        name,
        namespace,
        {**config_map, "metadata": metadata},
    )


async def write(*, clients: kube.Clients, layout: Layout, uid: str) -> None:
    name = layout.main["metadata"]["name"]
    namespace = layout.main["metadata"]["namespace"]
    existing = await _read(clients, name, namespace)
    if existing is not None:
        _check_ours(existing, uid, namespace=namespace, name=name)
    in_use = part_names(existing) if existing is not None else []
    slot = "b" if _slot_of(in_use) == "a" else "a"
    main, parts = layout.named(slot)
    for part in parts:
        await _put(clients, part, uid)
    if existing is None:
        await kube.call(clients.core.create_namespaced_config_map, namespace, main)
    else:
        await _put(clients, main, uid, existing=existing)
    # The parts the report named until now: emptied, so no stale nodes.json lies
    # around. The report is whole without this; a failure here is only logged.
    owner = main["metadata"]["ownerReferences"][0]
    for old in in_use:
        emptied = _config_map(
            metadata=_metadata(
                name=old, namespace=namespace, request=owner["name"], uid=uid,
                labels={PART_LABEL: name},
            ),
            data={},
        )  # fmt: skip
        try:
            found = await _read(clients, old, namespace)
            if found is not None and _owned_by(found, uid):
                await _put(clients, emptied, uid, existing=found)
        except kube.ApiError as error:
            logger.warning(
                "could not empty the unused ConfigMap %s/%s: %s", namespace, old, error.message
            )
