"""Find the gateway pods of a request and what is known of the machines they run on.

The selector goes to the API server as a label selector: a big cluster's pods
are never all fetched to be filtered here. Pods that cannot be asked (not
Running and Ready, no IP, no such port) are failures, never dropped. Each
Node is read once per run; when Nodes cannot be read (RBAC), the report says
so instead of guessing the cores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

from license_report.api import v1alpha1
from license_report.reconcile import kube
from license_report.report import models

# Kubernetes' architecture names, as ``uname -m`` (which Kong reports) spells them.
_UNAME_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l"}
_NODE_READS_AT_ONCE = 16


@dataclasses.dataclass(frozen=True)
class Discovery:
    targets: list[models.Target]
    failures: list[models.Failure]  # matched pods that cannot be asked
    notes: list[str]

    @property
    def pods(self) -> int:
        return len(self.targets) + len(self.failures)


def label_selector(selector: v1alpha1.LabelSelector) -> str:
    """The ``labelSelector`` query string of a LabelSelector (equality and set-based)."""
    terms = [f"{key}={value}" for key, value in sorted((selector.match_labels or {}).items())]
    for requirement in selector.match_expressions or []:
        values = ",".join(requirement.values or [])
        terms.append(
            {
                "In": f"{requirement.key} in ({values})",
                "NotIn": f"{requirement.key} notin ({values})",
                "Exists": requirement.key,
                "DoesNotExist": f"!{requirement.key}",
            }[requirement.operator]
        )
    return ",".join(terms)


def _ready(pod: Any) -> bool:
    conditions = pod.status.conditions or []
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in conditions
    )


def _port(pod: Any, admin_api: v1alpha1.AdminApi) -> int | None:
    if admin_api.port_name is None:
        return admin_api.port or v1alpha1.DEFAULT_ADMIN_PORT
    for container in pod.spec.containers or []:
        for port in container.ports or []:
            if port.name == admin_api.port_name:
                return int(port.container_port)
    return None


def _url(*, scheme: str, ip: str, port: int) -> str:
    host = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
    return f"{scheme}://{host}:{port}"


def _cores(quantity: str) -> int | None:
    """``status.capacity.cpu``: ``"4"`` or ``"4000m"``; fractions round up to whole cores."""
    try:
        if quantity.endswith("m"):
            return max(1, -(-int(quantity[:-1]) // 1000))
        return max(1, int(float(quantity) + 0.999))
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class _Host:
    cores: int | None
    uname: str | None


def _host(node: Any) -> _Host:
    info = node.status.node_info
    uname = None
    if info is not None and info.operating_system and info.architecture:
        os_name = info.operating_system.capitalize()
        uname = f"{os_name} {_UNAME_ARCH.get(info.architecture, info.architecture)}"
    capacity = (node.status.capacity or {}).get("cpu")
    return _Host(cores=_cores(capacity) if capacity else None, uname=uname)


async def _hosts(clients: kube.Clients, names: set[str], notes: list[str]) -> dict[str, _Host]:
    gate = asyncio.Semaphore(_NODE_READS_AT_ONCE)
    forbidden = False

    async def read(name: str) -> tuple[str, _Host | None]:
        nonlocal forbidden
        async with gate:
            try:
                return name, _host(await kube.call(clients.core.read_node, name))
            except kube.ApiException as error:
                if error.status in (401, 403):
                    forbidden = True
                    return name, None
                if error.status == 404:
                    return name, None
                raise

    found = dict(await asyncio.gather(*(read(name) for name in sorted(names))))
    if forbidden:
        notes.append(
            "Nodes cannot be read (the operator may not get nodes): host cores and "
            "architecture come from the nodes' own reports, or are unknown."
        )
    return {name: host for name, host in found.items() if host is not None}


async def discover(
    *, clients: kube.Clients, namespace: str, gateway: v1alpha1.Gateway
) -> Discovery:
    listing = await kube.call(
        clients.core.list_namespaced_pod, namespace, label_selector=label_selector(gateway.selector)
    )
    admin_api = gateway.admin_api
    notes: list[str] = []
    failures: list[models.Failure] = []
    askable: list[tuple[Any, int]] = []
    for pod in sorted(listing.items, key=lambda p: p.metadata.name):
        name = pod.metadata.name
        port = _port(pod, admin_api)
        reason = None
        if pod.metadata.deletion_timestamp is not None:
            reason = "pod is terminating"
        elif not _ready(pod):
            reason = f"pod is {pod.status.phase or 'Unknown'}, not Running and Ready"
        elif not pod.status.pod_ip:
            reason = "pod has no IP"
        elif port is None:
            reason = f"no container port named {admin_api.port_name}"
        if reason is None and port is not None:
            askable.append((pod, port))
        else:
            failures.append(
                models.Failure(
                    pod=name, reason=models.FailureReason.NOT_READY, message=reason or ""
                )
            )

    hosts = await _hosts(
        clients, {pod.spec.node_name for pod, _ in askable if pod.spec.node_name}, notes
    )
    targets = []
    for pod, port in askable:
        host = hosts.get(pod.spec.node_name or "")
        targets.append(
            models.Target(
                name=pod.metadata.name,
                url=_url(scheme=admin_api.scheme, ip=pod.status.pod_ip, port=port),
                host=pod.spec.node_name,
                host_cores=host.cores if host else None,
                host_uname=host.uname if host else None,
            )
        )
    return Discovery(targets=targets, failures=failures, notes=notes)
