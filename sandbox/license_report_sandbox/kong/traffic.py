"""Traffic and kubelet probes into simulated nodes, driven by the event loop's clock.

Everything here follows `LoopClock`, wall-clock time that moves with the loop's
time: on a looptime loop a test sleeps through days in a moment, and the counts
are the same on every run (no randomness). Each `Traffic.step` brings every
lane up to the clock's now; the counts in ``(last, now]`` come from floors of
``rate * t`` and of the probe schedule, so they do not depend on how often a step
runs, and a step that crosses a UTC month's start is split there, so the truth's
months are exact (to a microsecond) whatever the ``tick``.

Probes are what the kubelet does with the Pod's probe specs: a probe fires at
``startedAt + initialDelaySeconds + k * periodSeconds`` (k = 0, 1, ...), readiness
and liveness each, one request on the status listener each time (the Kong chart:
10 s each, 5 s initial delay, e76b80031a:charts/kong/values.yaml:961-983). A startup
probe (the chart renders none, L985-988) is not modelled. Probes go on until the node
stops serving (``kong quit``'s wait over), as the kubelet keeps probing a
terminating pod's containers until they exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from license_report_sandbox.kong import nginx, nodes

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_INSTANT = datetime.timedelta(microseconds=1)


def _next_month(moment: datetime.datetime) -> datetime.datetime:
    utc = moment.astimezone(datetime.UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime.datetime(year, month, 1, tzinfo=datetime.UTC)


@dataclasses.dataclass
class LoopClock:
    """UTC wall-clock time that flows with the running event loop's (maybe fake) time."""

    start: datetime.datetime
    origin: float = dataclasses.field(default_factory=lambda: asyncio.get_running_loop().time())

    def now(self) -> datetime.datetime:
        elapsed = asyncio.get_running_loop().time() - self.origin
        return self.start + datetime.timedelta(seconds=elapsed)


@dataclasses.dataclass(frozen=True)
class Probe:
    """One of a container's HTTP probes, as the Pod spec gives it."""

    path: str
    initial_delay: float
    period: float

    def fired(self, *, started: datetime.datetime, until: datetime.datetime) -> int:
        """How many times it has fired from ``started`` up to and including ``until``."""
        first = (until - started).total_seconds() - self.initial_delay
        return 0 if first < 0 else math.floor(first / self.period) + 1


def probes_of(pod: Mapping[str, Any], *, container: str = "proxy") -> tuple[Probe, ...]:
    """The readiness and liveness probes of ``container`` (API-server defaults: period 10 s,
    initial delay 0, as `topologies.pods.http_probe` renders them explicitly)."""
    for spec in pod.get("spec", {}).get("containers", []):
        if spec.get("name") != container:
            continue
        probes = []
        for key in ("readinessProbe", "livenessProbe"):
            probe = spec.get(key)
            if probe and "httpGet" in probe:
                probes.append(
                    Probe(
                        path=str(probe["httpGet"].get("path", "/")),
                        initial_delay=float(probe.get("initialDelaySeconds", 0)),
                        period=float(probe.get("periodSeconds", 10)),
                    )
                )
        return tuple(probes)
    raise LookupError(f"pod has no container {container!r}")


@dataclasses.dataclass
class _Lane:
    node: nodes.SimNode
    #: When this nginx master started (the container's ``state.running.startedAt``).
    started: datetime.datetime
    probes: tuple[Probe, ...]
    last: datetime.datetime


def _between(
    rate: float, *, origin: datetime.datetime, since: datetime.datetime, until: datetime.datetime
) -> int:
    """Events of a steady ``rate`` per second counted from ``origin``, in ``(since, until]``."""
    before = max((since - origin).total_seconds(), 0.0)
    after = max((until - origin).total_seconds(), 0.0)
    return math.floor(rate * after) - math.floor(rate * before)


class Traffic:
    """Proxies ``rate`` routed (and ``unrouted_rate`` unmatched) requests per second into
    each of its nodes, ``admin_rate`` Admin API calls (the ingress controller's) into
    each that serves one, and the kubelet's probes; ``async with`` runs it every ``tick``.

    Adding a node points its ``clock`` at ``clock.now`` (`SimNode.proxied` books the
    truth by that clock's UTC month).
    """

    def __init__(
        self,
        *,
        clock: LoopClock,
        rate: float,
        unrouted_rate: float = 0.0,
        admin_rate: float = 0.0,
        tick: float = 1.0,
        route: nginx.Route = nginx.DEFAULT_ROUTE,
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.unrouted_rate = unrouted_rate
        self.admin_rate = admin_rate
        self.tick = tick
        self.route = route
        self._lanes: dict[str, _Lane] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def targets(self) -> list[nodes.SimNode]:
        """The nodes traffic goes to now."""
        return [lane.node for lane in self._lanes.values()]

    def add(
        self,
        node: nodes.SimNode,
        *,
        probes: Iterable[Probe] = (),
        started: datetime.datetime | None = None,
    ) -> None:
        """Start sending to ``node``; its master started at ``started`` (default: now)."""
        now = self.clock.now()
        node.clock = self.clock.now
        self._lanes[node.name] = _Lane(
            node=node, started=started or now, probes=tuple(probes), last=now
        )

    def remove(self, name: str) -> None:
        """Stop sending to node ``name`` (its listeners closed), after a last step."""
        lane = self._lanes.pop(name, None)
        if lane is not None:
            self._advance(lane, self.clock.now())

    def restarted(self, name: str, *, started: datetime.datetime | None = None) -> None:
        """The node's container restarted (`SimNode.restart` done): probes count from the new
        start. Call `step` before the restart so the old master gets its share."""
        lane = self._lanes[name]
        lane.started = started or self.clock.now()
        lane.last = max(lane.last, lane.started)

    def step(self) -> None:
        """Bring every lane up to the clock's now."""
        now = self.clock.now()
        for lane in list(self._lanes.values()):
            self._advance(lane, now)

    def _advance(self, lane: _Lane, now: datetime.datetime) -> None:
        if now <= lane.last or lane.node.stopped:
            return
        # Requests before a UTC month's first instant are the old month's truth.
        boundary = _next_month(lane.last)
        if boundary < now:
            self._advance(lane, boundary - _INSTANT)
        self._advance_within(lane, now)

    def _advance_within(self, lane: _Lane, now: datetime.datetime) -> None:
        node, since = lane.node, lane.last
        if now <= since:
            return
        # Proxied traffic counts from the epoch, so a restart neither loses nor repeats any.
        span = {"origin": _EPOCH, "since": since, "until": now}
        routed = _between(self.rate, **span)
        unrouted = _between(self.unrouted_rate, **span)
        if routed:
            node.proxy(routed, route=self.route, at=now)
        if unrouted:
            node.proxy(unrouted, route=None, code=404, at=now)
        admin = _between(self.admin_rate, **span) if node.serves_admin_api else 0
        if admin:
            node.serve(nginx.Kind.ADMIN, admin)
        probes = sum(
            probe.fired(started=lane.started, until=now)
            - probe.fired(started=lane.started, until=since)
            for probe in lane.probes
        )
        if probes:
            node.serve(nginx.Kind.PROBE, probes)
        lane.last = now

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.step()

    async def __aenter__(self) -> Traffic:
        self._task = asyncio.create_task(self._run(), name="sim-traffic")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.step()


def lanes_from_pods(
    traffic: Traffic, pairs: Sequence[tuple[nodes.SimNode, Mapping[str, Any]]]
) -> None:
    """Add each node with its pod's probes and container start (``state.running.startedAt``)."""
    for node, pod in pairs:
        traffic.add(node, probes=probes_of(pod), started=started_at(pod))


def started_at(pod: Mapping[str, Any], *, container: str = "proxy") -> datetime.datetime | None:
    for status in pod.get("status", {}).get("containerStatuses", []):
        if status.get("name") == container:
            text = status.get("state", {}).get("running", {}).get("startedAt")
            if text:
                return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=datetime.UTC
                )
    return None
