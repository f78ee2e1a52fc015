"""Find the gateway pods of a request and what is known of the machines they run on.

The selector goes to the API server as a label selector: a big cluster's pods
are never all fetched to be filtered here. The matching pods are listed in
pages of ``PAGE`` and read as plain JSON, keeping only the few fields used:
the client's models take ~40 KB per pod, 400 MB for a 10,000-pod fleet, where
this keeps well under 1 KB. Pods that cannot be asked (not
Running and Ready, no IP, no such port) are failures, never dropped. Each
Node is read once per run; when Nodes cannot be read (RBAC), the report says
so instead of guessing the cores.

Only gateway pods count. A selector on the Kong chart's ``name`` and
``instance`` labels also matches its migration Job pods, and a rollout or a
scale-up shows pods that are leaving or not yet started: none of these is a
gateway that should have answered, so they are *skipped* (counted, and named
with why in a note), never failures that would make every report Degraded:

- a pod owned by a Job (``kong migrations``: it never serves an Admin API);
- a pod without a Kong container (see `kong_container`: an ingress
  controller's own pod, say);
- a completed pod (phase Succeeded or Failed);
- a pod not started yet (Pending without an IP);
- a terminating pod that is no longer Ready (a terminating pod still Ready
  serves, as Kong does until ``kong quit`` ends, so it is asked).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from license_report.api import defaults, errors, v1alpha1
from license_report.reconcile import kube
from license_report.report import models

_T = TypeVar("_T")

# Kubernetes' architecture names, as ``uname -m`` (which Kong reports) spells them.
_UNAME_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l"}
_NODE_READS_AT_ONCE = 16
#: Pods per list call (``limit``); the API server hands out the rest with ``continue``.
#: A chart pod's JSON, parsed, takes ~60 KB until its few fields are kept: 500 at once
#: were ~30 MB of the operator's peak at 1,000 pods (issue 13), 100 are ~6 MB.
PAGE = 100


#: Image repositories (the last path component) of Kong Gateway: ``kong:3.9``,
#: ``kong/kong-gateway:3.4``, a mirror's ``registry.example/kong/kong-gateway``.
_KONG_IMAGES = frozenset({"kong", "kong-gateway"})
#: Settings only a Kong Gateway container has (``kong.conf`` keys, from the env).
_KONG_SETTINGS = ("KONG_ADMIN_LISTEN", "KONG_PROXY_LISTEN", "KONG_ROLE", "KONG_DATABASE")
#: The Kong container's variables `derivation` reads; a pod's other env (the chart's
#: Enterprise pod sets 32) is dropped at listing so that 10,000 pods' facts stay small.
DERIVED_ENV = frozenset(
    {
        "KONG_ADMIN_LISTEN",
        "KONG_DATABASE",
        "KONG_KONNECT_MODE",
        "KONG_LICENSE_DATA",
        "KONG_PASSWORD",
        "KONG_PG_DATABASE",
        "KONG_PG_HOST",
        "KONG_PG_PASSWORD",
        "KONG_PG_PORT",
        "KONG_PG_SSL",
        "KONG_PG_SSL_VERIFY",
        "KONG_PG_USER",
        "KONG_ROLE",
    }
)
#: The literal variables of any container discovery itself reads (`_Pod.env`).
_POD_ENV = frozenset({"KONG_ROLE", "KONG_CLUSTER_TELEMETRY_ENDPOINT"})
_CONTROLLER_ENV = frozenset({"CONTROLLER_KONG_ADMIN_TOKEN"})


@dataclasses.dataclass(frozen=True)
class SecretKey:
    """An env var's ``valueFrom.secretKeyRef``: a key of a Secret in the pod's namespace."""

    name: str
    key: str


#: An env var as the pod spec gives it: a literal value or a Secret's key.
EnvValue = str | SecretKey


@dataclasses.dataclass(frozen=True, slots=True)
class PodFacts:
    """What a gateway pod's spec says about its Kong, for `derivation` to read."""

    namespace: str
    pod: str  # the pod's own name (a target's name may be namespace-qualified)
    ip: str | None
    ports: Mapping[str, int]
    #: The Kong container's env (``value`` or ``valueFrom.secretKeyRef``), only the
    #: variables in `DERIVED_ENV`: nothing else is read.
    env: Mapping[str, EnvValue]
    #: ``CONTROLLER_KONG_ADMIN_TOKEN`` of an ingress controller container in the same pod.
    controller_token: EnvValue | None


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A matched pod that is not a gateway to ask, and why: counted, never a failure."""

    pod: str
    why: str


@dataclasses.dataclass(frozen=True)
class Discovery:
    targets: list[models.Target]
    failures: list[models.Failure]  # matched pods that cannot be asked
    notes: list[str]
    # Hybrid data planes (KONG_ROLE=data_plane): Kong renders no Admin API for them.
    data_planes: list[models.DataPlanePod] = dataclasses.field(default_factory=list)
    # Matched pods that are not gateways: migration Jobs, completed or unstarted pods.
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    # What each asked pod (by target name) and each data plane (by pod) says of its Kong.
    facts: Mapping[str, PodFacts] = dataclasses.field(default_factory=dict)

    @property
    def pods(self) -> int:
        """Gateway pods: asked, failed or data planes; skipped pods are not among them."""
        return len(self.targets) + len(self.failures) + len(self.data_planes)


def namespaces(gateway: v1alpha1.Gateway, *, default: str) -> list[str]:
    """Where the gateway pods are: ``namespaces``, ``namespace``, or ``default`` (the
    request's own)."""
    # The API server keeps namespaces a set; a spec parsed from elsewhere may repeat one.
    return list(dict.fromkeys(gateway.namespaces or [gateway.namespace or default]))


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Pod:
    """What discovery needs of a Pod, and nothing else."""

    name: str
    terminating: bool
    phase: str | None
    ready: bool
    ip: str | None
    node_name: str | None
    ports: Mapping[str, int]  # container port name -> number
    # Literal env values of the containers, those in `_POD_ENV` (valueFrom is not read).
    env: Mapping[str, str]
    job: str | None  # the Job owning the pod (a migration), if any
    kong: bool  # whether a container runs Kong Gateway
    facts: PodFacts


def kong_container(containers: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The container running Kong Gateway, if any.

    The rule: the container named ``proxy`` (every Kong chart, the kong/ingress
    chart and the Kong Gateway Operator name it so); else the first whose env
    sets a setting only a gateway reads (``KONG_ADMIN_LISTEN``,
    ``KONG_PROXY_LISTEN``, ``KONG_ROLE``, ``KONG_DATABASE``: a hand-written
    Deployment); else the first running a Kong Gateway image (``kong``,
    ``kong/kong-gateway``, from any registry). The ingress controller's image
    (``kong/kubernetes-ingress-controller``) and its ``CONTROLLER_*`` env match
    none of these.
    """
    for container in containers:
        if container.get("name") == "proxy":
            return container
    for container in containers:
        names = {var.get("name") for var in container.get("env") or []}
        if any(setting in names for setting in _KONG_SETTINGS):
            return container
    for container in containers:
        image = str(container.get("image") or "").split("@")[0]
        repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        if repository.rsplit("/", 1)[-1] in _KONG_IMAGES:
            return container
    return None


def job_of(metadata: Mapping[str, Any]) -> str | None:
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("kind") == "Job" and str(owner.get("apiVersion", "")).startswith("batch/"):
            return str(owner.get("name"))
    return None


def _env_value(var: Mapping[str, Any]) -> EnvValue | None:
    if isinstance(var.get("value"), str):
        return str(var["value"])
    ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
    if ref.get("name") and ref.get("key"):
        return SecretKey(name=str(ref["name"]), key=str(ref["key"]))
    return None  # a fieldRef, a configMapKeyRef: nothing Kong's settings here come from


def env_of(container: Mapping[str, Any] | None, *, names: frozenset[str]) -> dict[str, EnvValue]:
    """The container's variables among ``names`` (the rest is never read)."""
    found: dict[str, EnvValue] = {}
    for var in (container or {}).get("env") or []:
        name = var.get("name")
        if name not in names:
            continue
        value = _env_value(var)
        if value is not None:
            found[str(name)] = value  # the last one wins, as in Kubernetes
    return found


_Value = TypeVar("_Value", bound=Hashable)
_Map = TypeVar("_Map", bound=Mapping[str, Hashable])


class _Shared:
    """One copy of each value that repeats from pod to pod of a listing.

    The pods of one Deployment carry the same env, ports, namespace and a few
    Node names, yet each page's JSON gives every pod its own strings and dicts:
    10,000 chart pods held ~20 MB of identical copies for the whole run (issue 13).
    Equal values are handed out as the first one seen; nothing here is mutated.
    """

    def __init__(self) -> None:
        self._seen: dict[Hashable, Any] = {}

    def value(self, value: _Value) -> _Value:
        shared: _Value = self._seen.setdefault(value, value)
        return shared

    def mapping(self, mapping: _Map) -> _Map:
        # Keyed by the items in order: the same env in another order is a copy, still right.
        shared: _Map = self._seen.setdefault(("mapping", *mapping.items()), mapping)
        return shared


def named_ports(containers: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The containers' named ports: name -> number."""
    return {
        str(port["name"]): int(port["containerPort"])
        for container in containers
        for port in container.get("ports") or []
        if port.get("name") and port.get("containerPort") is not None
    }


def running_and_ready(status: Mapping[str, Any]) -> bool:
    """Phase Running and the Ready condition True."""
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _pod(obj: Mapping[str, Any], shared: _Shared) -> _Pod:
    metadata, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("containers") or []
    kong = kong_container(containers)
    controller_token = next(
        (
            value
            for container in containers
            if container is not kong
            for name, value in env_of(container, names=_CONTROLLER_ENV).items()
            if name == "CONTROLLER_KONG_ADMIN_TOKEN"
        ),
        None,
    )
    ports = named_ports(containers)
    env = {
        str(var["name"]): str(var["value"])
        for container in spec.get("containers") or []
        for var in container.get("env") or []
        if var.get("name") in _POD_ENV and isinstance(var.get("value"), str)
    }
    ready = running_and_ready(status)
    ports = shared.mapping(ports)
    namespace = shared.value(str(metadata.get("namespace") or ""))
    return _Pod(
        name=str(metadata["name"]),
        terminating=metadata.get("deletionTimestamp") is not None,
        phase=status.get("phase"),
        ready=ready,
        ip=status.get("podIP") or None,
        node_name=shared.value(spec.get("nodeName") or None),
        ports=ports,
        env=shared.mapping(env),
        job=job_of(metadata),
        kong=kong is not None,
        facts=PodFacts(
            namespace=namespace,
            pod=str(metadata["name"]),
            ip=status.get("podIP") or None,
            ports=ports,
            env=shared.mapping(env_of(kong, names=DERIVED_ENV)),
            controller_token=shared.value(controller_token),
        ),
    )


async def list_pods(
    clients: kube.Clients,
    namespace: str,
    selector: str,
    parse: Callable[[Mapping[str, Any]], _T | None],
) -> list[_T]:
    """The matching pods of one namespace, page by page, each page read as raw JSON and kept
    only as ``parse`` makes it (None: left out): the client's models cost ~40 KB a pod
    (docs/benchmarks.md, issue 6)."""
    pods: list[_T] = []
    token: str | None = None
    while True:
        page: dict[str, Any] = {"label_selector": selector, "limit": PAGE}
        if token:
            page["_continue"] = token
        response = await kube.call(
            clients.core.list_namespaced_pod, namespace, _preload_content=False, **page
        )
        listing = json.loads(response.data)
        pods += [pod for item in listing.get("items") or [] if (pod := parse(item)) is not None]
        token = (listing.get("metadata") or {}).get("continue")
        if not token:
            return pods


def _port(pod: _Pod, admin_api: v1alpha1.AdminApi) -> int | None:
    if admin_api.port_name is None:
        return admin_api.port or defaults.ADMIN_API_PORT
    return pod.ports.get(admin_api.port_name)


def url(*, scheme: str, ip: str, port: int) -> str:
    """An Admin API base URL for a pod IP (IPv6 in brackets)."""
    host = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
    return f"{scheme}://{host}:{port}"


def _cores(quantity: str) -> int | None:
    """``status.capacity.cpu``: ``"4"`` or ``"4000m"``; fractions round up to whole cores."""
    try:
        if quantity.endswith("m"):
            return max(1, -(-int(quantity[:-1]) // 1000))
        return max(1, math.ceil(float(quantity)))
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
            except (kube.Unauthorized, kube.Forbidden):
                forbidden = True
                return name, None
            except kube.NotFound:
                return name, None

    found = dict(await asyncio.gather(*(read(name) for name in sorted(names))))
    if forbidden:
        notes.append(
            "Nodes cannot be read (the operator may not get nodes): host cores and "
            "architecture come from the nodes' own reports, or are unknown."
        )
    return {name: host for name, host in found.items() if host is not None}


def _skip(pod: _Pod) -> str | None:
    """Why a matched pod is not a gateway to ask (see the module's docstring), or None."""
    if pod.job is not None:
        return f"owned by Job {pod.job} (a migration, not a gateway)"
    if not pod.kong:
        return "no Kong Gateway container"
    if pod.phase in ("Succeeded", "Failed"):
        return f"completed ({pod.phase})"
    if pod.phase == "Pending" and not pod.ip:
        return "not started yet (Pending, no IP)"
    if pod.terminating and not pod.ready:
        return "terminating, no longer Ready"
    return None


def _skipped_note(skipped: list[Skipped]) -> str:
    listed = ", ".join(f"{s.pod} ({s.why})" for s in skipped[:20])
    more = f" and {len(skipped) - 20} more" if len(skipped) > 20 else ""
    return (
        f"{len(skipped)} matched pods are not gateway pods and were skipped, not counted as "
        f"failures: {listed}{more}."
    )


async def discover(
    *, clients: kube.Clients, namespace: str, gateway: v1alpha1.Gateway
) -> Discovery:
    """The request's gateway pods; ``namespace``: the request's, where pods are by default."""
    where = namespaces(gateway, default=namespace)
    selector = label_selector(gateway.selector)
    listed: list[_Pod] = []
    for pods_namespace in where:
        # One `_Shared` per listing: its pods' repeated env and ports are kept once.
        parse = functools.partial(_pod, shared=_Shared())
        found = await list_pods(clients, pods_namespace, selector, parse)
        if len(where) > 1:
            # Pod names are unique per namespace only: qualified when there are several.
            found = [dataclasses.replace(p, name=f"{pods_namespace}/{p.name}") for p in found]
        listed += found
    admin_api = gateway.admin_api
    notes: list[str] = []
    failures: list[models.Failure] = []
    askable: list[tuple[_Pod, int]] = []
    data_planes: list[models.DataPlanePod] = []
    skipped: list[Skipped] = []
    facts: dict[str, PodFacts] = {}
    for pod in sorted(listed, key=lambda p: p.name):
        why = _skip(pod)
        if why is not None:
            skipped.append(Skipped(pod=pod.name, why=why))
            continue
        if pod.env.get("KONG_ROLE") == "data_plane":
            # Kong renders no Admin API for a data plane (nginx_kong.lua:670): not a failure.
            telemetry = pod.env.get("KONG_CLUSTER_TELEMETRY_ENDPOINT") != "NONE"
            data_planes.append(models.DataPlanePod(pod=pod.name, telemetry=telemetry))
            facts[pod.name] = pod.facts
            continue
        port = _port(pod, admin_api)
        reason = None
        if not pod.ready:
            reason = f"pod is {pod.phase or 'Unknown'}, not Running and Ready"
        elif not pod.ip:
            reason = "pod has no IP"
        elif port is None:
            reason = f"no container port named {admin_api.port_name}"
        if reason is None and port is not None and pod.ip:
            askable.append((pod, port))
            facts[pod.name] = pod.facts
        else:
            failures.append(
                models.Failure(pod=pod.name, reason=errors.Reason.NOT_READY, message=reason or "")
            )
    if skipped:
        notes.append(_skipped_note(skipped))

    hosts = await _hosts(clients, {pod.node_name for pod, _ in askable if pod.node_name}, notes)
    targets = []
    for pod, port in askable:
        assert pod.ip is not None  # checked above
        host = hosts.get(pod.node_name or "")
        targets.append(
            models.Target(
                name=pod.name,
                url=url(scheme=admin_api.scheme or "http", ip=pod.ip, port=port),
                host=pod.node_name,
                host_cores=host.cores if host else None,
                host_uname=host.uname if host else None,
            )
        )
    return Discovery(
        targets=targets,
        failures=failures,
        notes=notes,
        data_planes=data_planes,
        skipped=skipped,
        facts=facts,
    )
