"""Metering: one sampling round over a request's gateway pods, into the fleet's ledger.

A round lists the gateway pods (the request's selector, in its namespaces),
decides whether the fleet is metered (`verdict`: spec.metering.enabled, else
whether the pods' env says Kong keeps no counts), reads every pod's counter
from its status listener (`sources.status_listener`), and records the samples
in the ledger (`reconcile.ledger`), which turns them into per-month deltas.
Between rounds the daemon (`handlers.metering`) samples a pod again the moment
it starts terminating (`sample`).

The status listener is found the way Kong binds it: ``KONG_STATUS_LISTEN``
(the Kong chart renders ``0.0.0.0:8100``, reached on the pod IP; a loopback-only
one through the API server's port-forward), else spec.metering's port and
scheme, else the container port named ``status``. ``status`` samples take out
the kubelet's probes on that listener, counted from the pod's probe specs
(`probes_since`), and the sampler's own requests.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import functools
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from license_report.api import errors, v1alpha1
from license_report.reconcile import discovery, kongconf, kube
from license_report.reconcile import ledger as ledger_store
from license_report.report import ledger, models
from license_report.sources import kong, portforward, status_listener, tunnels

#: The env a verdict and a status listener are read from (literal values only).
_ENV = frozenset(
    {
        "KONG_STATUS_LISTEN",
        "KONG_DATABASE",
        "KONG_ROLE",
        "KONG_CLUSTER_TELEMETRY_ENDPOINT",
        "KONG_KONNECT_MODE",
    }
)
#: Images of Kong Gateway Enterprise (any registry); other Kong images are Kong OSS.
_ENTERPRISE_IMAGES = frozenset({"kong-gateway", "kong-gateway-dev"})


def _time(text: object) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclasses.dataclass(frozen=True)
class Probe:
    """A kubelet probe that requests the status listener: one request per period."""

    initial_delay: int
    period: int


@dataclasses.dataclass(frozen=True)
class MeterPod:
    """What metering needs of one gateway pod."""

    uid: str
    namespace: str
    pod: str
    ip: str | None
    ready: bool
    deleting: datetime.datetime | None  # metadata.deletionTimestamp
    started: datetime.datetime | None  # status.startTime
    container_started: datetime.datetime | None  # the Kong container's running.startedAt
    restarts: int  # the Kong container's restartCount
    env: Mapping[str, str]
    ports: Mapping[str, int]
    image: str
    #: Probes on the container port named ``status`` or numbered as the status listener.
    probes: tuple[tuple[str | int, Probe], ...]

    @property
    def enterprise(self) -> bool:
        repository = self.image.split("@")[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        return repository.rsplit("/", 1)[-1] in _ENTERPRISE_IMAGES

    @property
    def keeps_no_counts(self) -> str | None:
        """Why Kong keeps no license counts for this pod (docs/metering.md), or None."""
        if not self.enterprise:
            return "Kong OSS keeps no license counters"
        role = self.env.get("KONG_ROLE", "traditional")
        if role == "data_plane":
            endpoint = self.env.get("KONG_CLUSTER_TELEMETRY_ENDPOINT")
            if endpoint in (None, "", "NONE", "127.0.0.1:8006", "localhost:8006"):
                return "a data plane without KONG_CLUSTER_TELEMETRY_ENDPOINT keeps no counts"
            return None
        if role != "control_plane" and self.env.get("KONG_DATABASE") == "off":
            return "KONG_DATABASE=off: DB-less Kong keeps no license counters"
        return None


def _probes(container: Mapping[str, Any]) -> tuple[tuple[str | int, Probe], ...]:
    found = []
    for kind in ("readinessProbe", "livenessProbe"):
        probe = container.get(kind) or {}
        get = probe.get("httpGet") or {}
        if "port" in get:
            found.append(
                (
                    get["port"],
                    Probe(
                        initial_delay=int(probe.get("initialDelaySeconds") or 0),
                        period=int(probe.get("periodSeconds") or 10),
                    ),
                )
            )
    return tuple(found)


def parse_pod(obj: Mapping[str, Any]) -> MeterPod | None:
    """A gateway pod as metering sees it; None for pods that are no gateway (a migration
    Job's, one without a Kong container, a completed one)."""
    metadata, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("containers") or []
    kong_container = discovery.kong_container(containers)
    if kong_container is None or discovery.job_of(metadata) is not None:
        return None
    if status.get("phase") in ("Succeeded", "Failed"):
        return None
    statuses = {c.get("name"): c for c in status.get("containerStatuses") or []}
    mine = statuses.get(kong_container.get("name")) or {}
    running = (mine.get("state") or {}).get("running") or {}
    # Literal values only: none of these is ever a Secret's.
    env = {
        name: value
        for name, value in discovery.env_of(kong_container, names=_ENV).items()
        if isinstance(value, str)
    }
    return MeterPod(
        uid=str(metadata.get("uid") or f"{metadata.get('namespace')}/{metadata['name']}"),
        namespace=str(metadata.get("namespace") or ""),
        pod=str(metadata["name"]),
        ip=status.get("podIP") or None,
        ready=discovery.running_and_ready(status),
        deleting=_time(metadata.get("deletionTimestamp")),
        started=_time(status.get("startTime")),
        container_started=_time(running.get("startedAt")),
        restarts=int(mine.get("restartCount") or 0),
        env=env,
        ports=discovery.named_ports([kong_container]),
        image=str(kong_container.get("image") or ""),
        probes=_probes(kong_container),
    )


async def list_pods(
    *, clients: kube.Clients, namespaces: Sequence[str], selector: str
) -> list[MeterPod]:
    pods: list[MeterPod] = []
    for namespace in namespaces:
        pods += await discovery.list_pods(clients, namespace, selector, parse_pod)
    return pods


@dataclasses.dataclass(frozen=True)
class Verdict:
    active: bool
    why: str


def verdict(pods: Sequence[MeterPod], metering: v1alpha1.Metering) -> Verdict:
    """Whether the fleet is metered, and why: the spec, else what the pods' env says."""
    if metering.enabled is False:
        return Verdict(False, "spec.metering.enabled is false")
    reasons = sorted({why for pod in pods if (why := pod.keeps_no_counts)})
    if metering.enabled:
        kept = "" if reasons else ": Kong keeps counts too, the report compares them"
        return Verdict(True, f"spec.metering.enabled is true{kept}")
    if not pods:
        return Verdict(False, "no gateway pods matched")
    if reasons:
        return Verdict(True, "; ".join(reasons))
    return Verdict(False, "Kong keeps this fleet's counts (in its datastore)")


@dataclasses.dataclass(frozen=True)
class StatusTarget:
    """Where a pod's status listener is reached: its URL, and a forward for a loopback one."""

    url: str
    port: int
    forward: bool


def status_target(pod: MeterPod, metering: v1alpha1.Metering) -> StatusTarget | str:
    """The pod's status listener, or why it has none to read."""
    listen = pod.env.get("KONG_STATUS_LISTEN")
    listeners: list[kongconf.Listener] | None = None
    if listen is not None:
        try:
            listeners = kongconf.parse_listen(listen)
        except kongconf.ListenError as error:
            return f"KONG_STATUS_LISTEN: {error}"
        if not listeners and metering.status_port is None:
            return "KONG_STATUS_LISTEN is off: no status listener to read"
    chosen = None
    if metering.status_port is not None:
        port = metering.status_port
        scheme = metering.status_scheme or "http"
    elif listeners:
        on_ip = [x for x in listeners if not x.loopback]
        chosen = min(on_ip or listeners, key=lambda x: x.ssl)  # plain first: nothing to verify
        port, scheme = chosen.port, metering.status_scheme or ("https" if chosen.ssl else "http")
    elif "status" in pod.ports:
        port, scheme = pod.ports["status"], metering.status_scheme or "http"
    else:
        return (
            "no status listener: KONG_STATUS_LISTEN unset and no container port named status "
            "(set spec.metering.statusPort)"
        )
    forward = chosen is not None and chosen.loopback
    if forward:
        host = f"{pod.pod}.{pod.namespace}.portforward.invalid"
    elif pod.ip is None:
        return "pod has no IP"
    else:
        host = f"[{pod.ip}]" if ":" in pod.ip else pod.ip
    return StatusTarget(url=f"{scheme}://{host}:{port}", port=port, forward=forward)


def probes_since(pod: MeterPod, *, port: int, at: datetime.datetime) -> int:
    """The kubelet's probe requests on the status listener since the container started:
    each probe's first at ``initialDelaySeconds``, then one every ``periodSeconds``."""
    start = pod.container_started or pod.started
    if start is None:
        return 0
    elapsed = (at - start).total_seconds()
    total = 0
    for target, probe in pod.probes:
        number = pod.ports.get(target) if isinstance(target, str) else target
        if number != port:
            continue  # another port's probe: not the status listener's requests
        if elapsed >= probe.initial_delay:
            total += int((elapsed - probe.initial_delay) // max(probe.period, 1)) + 1
    return total


@dataclasses.dataclass(frozen=True)
class Round:
    """What one round did: for the status, the metrics and the logs."""

    verdict: Verdict
    fleet: str
    at: datetime.datetime
    #: Pods read, by the counter read (prometheus, status).
    by_source: Mapping[str, int] = dataclasses.field(default_factory=dict)
    failures: tuple[models.Failure, ...] = ()
    writes: int = 0
    conflicts: int = 0
    no_series: int = 0  # prometheus pods without any request counter series
    since: datetime.datetime | None = None

    @property
    def sampled(self) -> int:
        return sum(self.by_source.values())

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_source))


@dataclasses.dataclass
class Sampler:
    """One request's sampling: its clients, the spec's metering and gateway, how to reach pods."""

    clients: kube.Clients
    namespace: str  # the request's: where the ledger lives
    spec: v1alpha1.Spec
    connection: portforward.Connection
    timeout: float = 5.0
    #: Each ledger month's shard count as last seen (`reconcile.ledger.record`'s hint).
    shard_counts: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def namespaces(self) -> list[str]:
        return discovery.namespaces(self.spec.gateway, default=self.namespace)

    @property
    def fleet(self) -> str:
        return ledger.fleet_key(namespaces=self.namespaces, selector=self.spec.gateway.selector)

    async def pods(self) -> list[MeterPod]:
        return await list_pods(
            clients=self.clients,
            namespaces=self.namespaces,
            selector=discovery.label_selector(self.spec.gateway.selector),
        )

    async def read(
        self, pods: Sequence[MeterPod], *, now: datetime.datetime
    ) -> tuple[list[ledger.Sample], list[models.Failure], int]:
        """Every pod's counter, ``maxConcurrency`` at a time, as samples for the ledger."""
        metering = self.spec.metering
        targets: dict[str, tuple[MeterPod, StatusTarget]] = {}
        failures: list[models.Failure] = []
        for pod in pods:
            found = status_target(pod, metering)
            if isinstance(found, str):
                failures.append(_failure(pod, errors.Reason.NOT_READY, found))
            else:
                targets[pod.uid] = (pod, found)
        insecure = _status_tls()
        samples: list[ledger.Sample] = []
        no_series = 0
        async with tunnels.Pool(connection=self.connection) as pool:
            routes = {
                target.url: kong.Route(
                    tls=insecure,
                    forward=functools.partial(
                        pool.connector, namespace=pod.namespace, pod=pod.pod, port=target.port
                    ),
                )
                for pod, target in targets.values()
                if target.forward
            }
            settings = kong.ClientSettings(
                timeout=self.timeout,
                tls=insecure,
                max_concurrency=self.spec.gateway.max_concurrency,
                routes=routes,
            )
            waiting = iter(targets.values())

            async def worker() -> None:
                # ``maxConcurrency`` workers take the pods in turn: at 10,000 pods, 64 tasks
                # rather than a waiting coroutine each (as `kong.fetch_nodes`).
                for pod, target in waiting:
                    await one(pod, target)

            async def one(pod: MeterPod, target: StatusTarget) -> None:
                nonlocal no_series
                try:
                    reading = await status_listener.read(
                        session=session,
                        target=models.Target(name=pod.pod, url=target.url),
                        settings=settings,
                        source=metering.source,
                    )
                except kong.NodeError as error:
                    failures.append(_failure(pod, error.reason, error.message))
                    return
                at = now
                no_series += not reading.series
                samples.append(
                    ledger.Sample(
                        uid=pod.uid,
                        pod=pod.pod,
                        namespace=pod.namespace,
                        node_id=reading.node_id,
                        started=pod.container_started,
                        pod_started=pod.started,
                        restarts=pod.restarts,
                        source=reading.source,
                        counter=reading.counter,
                        at=at,
                        probes=(
                            probes_since(pod, port=target.port, at=at)
                            if reading.source == "status"
                            else 0
                        ),
                        own_requests=reading.requests_made,
                    )
                )

            async with kong.new_session(settings) as session, asyncio.TaskGroup() as group:
                for _ in range(min(settings.max_concurrency, len(targets))):
                    group.create_task(worker())
        return samples, failures, no_series

    async def round(self, *, now: datetime.datetime) -> Round:
        """One round: the pods, the verdict, and (metered) every pod's sample recorded."""
        pods = await self.pods()
        decided = verdict(pods, self.spec.metering)
        if not decided.active:
            return Round(verdict=decided, fleet=self.fleet, at=now)
        return await self._record(pods, decided, now=now)

    async def trim(self, *, now: datetime.datetime) -> list[str]:
        """Delete the fleet's ledger months past spec.metering.retentionMonths."""
        return await ledger_store.trim(
            clients=self.clients,
            namespace=self.namespace,
            fleet_key=self.fleet,
            now=now,
            retention_months=self.spec.metering.retention_months,
        )

    async def sample(self, pod: MeterPod, *, now: datetime.datetime) -> Round:
        """One pod sampled and recorded now (a terminating pod), the verdict taken as given."""
        return await self._record([pod], Verdict(True, "termination sample"), now=now)

    async def _record(
        self, pods: Sequence[MeterPod], decided: Verdict, *, now: datetime.datetime
    ) -> Round:
        samples, failures, no_series = await self.read(pods, now=now)
        fleet = self.fleet
        recorded = await ledger_store.record(
            clients=self.clients,
            namespace=self.namespace,
            fleet_key=fleet,
            samples=samples,
            since=now,
            counts=self.shard_counts,
        )
        return Round(
            verdict=decided,
            fleet=fleet,
            at=now,
            by_source=collections.Counter(sample.source for sample in samples),
            failures=tuple(sorted(failures, key=lambda f: f.pod)),
            writes=recorded.writes,
            conflicts=recorded.conflicts,
            no_series=no_series,
            since=recorded.since,
        )


def label(spec: v1alpha1.Spec) -> str:
    """The gateway selector as a ``labelSelector`` query."""
    return discovery.label_selector(spec.gateway.selector)


@functools.cache
def _status_tls() -> ssl.SSLContext:
    """For a status listener with ssl: its certificate is Kong's own, self-signed per pod,
    and its counter is no secret (`kong.tls_context`: no system CAs to look issuers up in)."""
    return kong.tls_context(insecure=True)


def _failure(pod: MeterPod, reason: errors.Reason, message: str) -> models.Failure:
    return models.Failure(pod=pod.pod, reason=reason, message=message)
