"""Follow the sample request to its end and read the report back from the cluster.

Everything shown comes from the API server, as a user with kubectl would see
it: the request's status, and the ConfigMap the operator wrote (report.json,
nodes.json, the tar). Nothing is taken from inside the operator.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime
import json
from collections.abc import Callable
from typing import Any

import pydantic

from license_report.api import errors, v1alpha1
from license_report.cli import collecting
from license_report.reconcile import kube, statuses
from license_report.report import models, packaging
from license_report_sandbox.sandbox import watching


class Timeout(Exception):
    def __init__(self, last: v1alpha1.Status) -> None:
        super().__init__("the request did not end in time")
        self.last = last


async def apply(clients: kube.Clients, body: dict[str, Any]) -> None:
    await kube.call(
        clients.custom.create_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        body["metadata"]["namespace"],
        v1alpha1.PLURAL,
        body,
    )


def condition(current: v1alpha1.Status, type_: str) -> v1alpha1.Condition | None:
    return next((c for c in current.conditions or [] if c.type == type_), None)


def status_of(obj: dict[str, Any]) -> v1alpha1.Status:
    return v1alpha1.Status.model_validate(obj.get("status") or {})


def progress(current: v1alpha1.Status) -> str:
    """The phase, and the Complete condition's reason and message once there is one."""
    complete = condition(current, v1alpha1.ConditionType.COMPLETE)
    if complete is None:
        return str(current.phase)
    detail = f"{complete.reason}: {complete.message}" if complete.message else complete.reason
    return f"{current.phase} ({detail})"


async def follow(
    clients: kube.Clients,
    *,
    namespace: str,
    name: str,
    timeout: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Watch the request until it ends, saying each change of phase; the final object."""
    shown = None
    current = v1alpha1.Status()
    try:
        async with (
            asyncio.timeout(timeout),
            contextlib.aclosing(
                watching.changes(clients, namespace=namespace, name=name)
            ) as changes,
        ):
            async for obj in changes:
                current = status_of(obj)
                if current.phase is not None and progress(current) != shown:
                    shown = progress(current)
                    say(f"{namespace}/{name}: {shown}")
                generation = int(obj["metadata"].get("generation") or 1)
                if current.phase in statuses.TERMINAL and current.observed_generation == generation:
                    return obj
    except TimeoutError:
        pass
    raise Timeout(current)


async def read_package(clients: kube.Clients, *, namespace: str, name: str) -> packaging.Package:
    """report.json, nodes.json, metering.json (a metered fleet's) and the tar from the
    report ConfigMap."""
    config_map = await kube.call(clients.core.read_namespaced_config_map, name, namespace)
    data = config_map.data or {}
    ((tar_name, tar_b64),) = (config_map.binary_data or {}).items()
    metering = data.get(packaging.METERING_MEMBER)
    return packaging.Package(
        report_json=data["report.json"].encode(),
        nodes_json=data["nodes.json"].encode(),
        tar_name=tar_name,
        tar_bytes=base64.b64decode(tar_b64),
        metering_json=None if metering is None else metering.encode(),
    )


def _as_kong_2_7(document: dict[str, Any]) -> models.KongReport:
    """report.json in either shape, read into the 2.7 one (what the summary prints)."""
    if "checksum" in document:  # kong-3.5: counters and the key are nested
        counters = document.get("counters")
        document = {
            key: value for key, value in document.items() if key in models.KongReport.model_fields
        } | {"license_key": document["license"]["license_key"]}
        if counters is not None:
            document["counters"] = counters["buckets"]
    return models.KongReport.model_validate(document)


def _collection(
    package: packaging.Package, *, current: v1alpha1.Status, datastore: bool
) -> models.Collection:
    """The collection the ConfigMap and the status describe, for ``collecting.summary``."""
    nodes = pydantic.TypeAdapter(list[models.NodeEntry]).validate_json(package.nodes_json)
    # A metered fleet's gone pods keep entries for their months; `collecting.summary` counts
    # only `Collection.gateway_nodes`, so a rolling update does not read "3 of 6 reached".
    reached = [node for node in nodes if node.reachable]
    editions = collections.Counter(node.edition for node in reached if node.edition)
    dbless = not datastore and all(node.database == "off" for node in reached)
    completed = (
        datetime.datetime.fromisoformat(current.completed_at)
        if current.completed_at
        else datetime.datetime.now(datetime.UTC)
    )
    return models.Collection(
        report=_as_kong_2_7(json.loads(package.report_json)),
        nodes=nodes,
        failures=[
            models.Failure(pod=f.pod, reason=errors.Reason(f.reason), message=f.message)
            for f in current.failures or []
        ],
        notes=list(current.notes or []),
        outcome=models.Outcome.DEGRADED
        if current.phase is v1alpha1.Phase.DEGRADED
        else models.Outcome.COMPLETE,
        mode="dbless" if dbless else "db",
        edition=editions.most_common(1)[0][0] if editions else "unknown",
        routes_count=None,
        consumers_count=None,
        generated_at=completed,
    )


def conditions(current: v1alpha1.Status) -> str:
    rows = [(c.type, c.status, c.reason, c.message) for c in current.conditions or []]
    if not rows:
        return "conditions: none"
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["conditions:"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append(("  " + "  ".join([*cells, row[3]])).rstrip())
    return "\n".join(lines)


def derived(settings: v1alpha1.DerivedSettings) -> str:
    """status.derived: what the operator took from the pods' spec, and from where."""
    rows = [
        ("adminApi", settings.admin_api),
        ("datastore", settings.datastore),
        ("license", settings.license),
        ("token", settings.token),
    ]
    lines = ["derived from the gateway pods (status.derived):"]
    lines += [f"  {name:<10} {value}" for name, value in rows if value]
    return "\n".join(lines)


def summary(obj: dict[str, Any], package: packaging.Package) -> str:
    """``collect``'s table of the report, then the request's phase and conditions."""
    current = status_of(obj)
    datastore = bool((obj.get("spec") or {}).get("datastore")) or bool(
        current.derived and current.derived.datastore
    )
    meta = obj["metadata"]
    sha = package.report_sha256
    checked = "matches" if sha == current.report_sha256 else "DIFFERS from"
    return "\n".join(
        [
            collecting.summary(_collection(package, current=current, datastore=datastore)),
            f"LicenseReportRequest {meta['namespace']}/{meta['name']}: {current.phase}",
            conditions(current),
            f"report.json sha256 {sha} ({checked} status.reportSha256)",
        ]
    )
