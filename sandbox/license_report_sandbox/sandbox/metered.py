"""``--topology metered``: a DB-less fleet under traffic, metered by the operator through a
rolling update, and the report its ledger gives set beside what the pods really proxied.

The Kong chart's defaults keep no license counters (DB-less: Kong's ``off``
strategy), so the operator meters the pods itself (docs/metering.md). This run
shows it at work in about a minute of real time: the fleet
(`license_report_sandbox.metering`) serves generated traffic from the moment
it starts; the request (a selector, and the 5 s sampling interval, the least the
API allows: the default 60 s would make the demo minutes long) starts the
operator's sampler; after two rounds every pod is replaced by a rolling update,
the old pods sampled as they terminate; then a rerun of the report reads the
ledger. Everything shown is read from the API server, as kubectl would; only
the truth (what each simulated pod proxied) comes from the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Any

from license_report.api import v1alpha1
from license_report.cli import collect, collecting
from license_report.handlers import metering as metering_daemon
from license_report.reconcile import kube
from license_report.reconcile import ledger as ledger_store
from license_report.report import ledger, packaging
from license_report_sandbox import metering as sim_metering
from license_report_sandbox.sandbox import cluster, options, reporting, terminal, watching

#: Proxied requests a second into each pod: round figures, easy to check by hand.
RATE = 10
#: ``spec.metering.intervalSeconds``: the least the API allows (the default is 60).
INTERVAL_SECONDS = 5
#: Seconds between the simulated traffic's steps (its counts follow the clock, whatever this).
TRAFFIC_TICK = 0.2
#: Sampling rounds before the rolling update (and at least one after it, on the new pods).
ROUNDS_BEFORE_ROLL = 2
#: Seconds a new pod takes to be ready (the chart's readiness probe's initial delay) before
#: the old ones are deleted; every pod is replaced at once (maxSurge 100%), so the rolling
#: update takes this and ``kong quit --wait=15`` (`metering.QUIT_WAIT`): about 20 s.
READY_AFTER = 5.0
#: The rerun annotation's value that asks for the report after the rolling update.
RERUN = "after-rolling-update"


def request() -> dict[str, Any]:
    """The sample request: the chart's selector, and the sampling interval."""
    spec = {
        "gateway": {"selector": {"matchLabels": dict(cluster.APP_SELECTOR)}},
        "metering": {"intervalSeconds": INTERVAL_SECONDS},
    }
    return {
        "apiVersion": f"{v1alpha1.GROUP}/{v1alpha1.VERSION}",
        "kind": v1alpha1.KIND,
        "metadata": {"name": cluster.REQUEST, "namespace": cluster.NAMESPACE},
        "spec": spec,
    }


class _Request:
    """The request as a watch sees it: each phase and each sampling round said as it comes,
    and waits for a state of it."""

    def __init__(self, clients: kube.Clients, *, say: Callable[[str], None]) -> None:
        self.clients = clients
        self.latest: dict[str, Any] = {}
        self.rounds = 0
        self._say = say
        self._changed = asyncio.Condition()
        self._shown: str | None = None
        self._sampled: str | None = None

    @property
    def status(self) -> v1alpha1.Status:
        return reporting.status_of(self.latest)

    async def watch(self) -> None:
        async with contextlib.aclosing(
            watching.changes(self.clients, namespace=cluster.NAMESPACE, name=cluster.REQUEST)
        ) as changes:
            async for obj in changes:
                self._tell(reporting.status_of(obj))
                async with self._changed:
                    self.latest = obj
                    self._changed.notify_all()

    def _tell(self, current: v1alpha1.Status) -> None:
        if current.phase is not None and reporting.progress(current) != self._shown:
            self._shown = reporting.progress(current)
            self._say(f"{cluster.NAMESPACE}/{cluster.REQUEST}: {self._shown}")
        metered = current.metering
        if metered is None or metered.last_sample_time in (None, self._sampled):
            return
        self._sampled = metered.last_sample_time
        self.rounds += 1
        sources = ", ".join(metered.sources or []) or "no source"
        error = f"; {metered.last_error}" if metered.last_error else ""
        self._say(f"sampling round {self.rounds}: {metered.pods_sampled} pods ({sources}){error}")

    async def until(self, done: Callable[[], bool]) -> dict[str, Any]:
        async with self._changed:
            await self._changed.wait_for(done)
            return self.latest

    def reported(self, *, rerun: str | None) -> bool:
        """The run for the current generation (and ``rerun``) has ended."""
        current = self.status
        generation = int((self.latest.get("metadata") or {}).get("generation") or 1)
        return (
            current.phase in _TERMINAL
            and current.observed_generation == generation
            and current.observed_rerun == rerun
        )


_TERMINAL = (v1alpha1.Phase.SUCCEEDED, v1alpha1.Phase.DEGRADED, v1alpha1.Phase.FAILED)


def _metering_status(metered: v1alpha1.MeteringStatus) -> str:
    rows = [
        ("active", str(metered.active).lower()),
        ("why", metered.why),
        ("ledger", metered.ledger),
        ("since", metered.since),
        ("lastSampleTime", metered.last_sample_time),
        ("podsSampled", None if metered.pods_sampled is None else str(metered.pods_sampled)),
        ("sources", ", ".join(metered.sources or []) or None),
        ("lastError", metered.last_error),
    ]
    lines = ["status.metering (the operator's sampler):"]
    lines += [f"  {name:<15} {value}" for name, value in rows if value]
    return "\n".join(lines)


async def _ledger_maps(clients: kube.Clients, *, fleet: str) -> str:
    """The ledger ConfigMaps as kubectl lists them, each with its pods and requests."""
    listed = await kube.call(
        clients.core.list_namespaced_config_map,
        cluster.NAMESPACE,
        label_selector=f"{ledger_store.FLEET_LABEL}={fleet}",
    )
    lines = [
        f"ledger ConfigMaps (kubectl get configmaps -n {cluster.NAMESPACE}"
        f" -l {ledger_store.FLEET_LABEL}={fleet}), not owned by the request:"
    ]
    for config_map in listed.items:
        document = ledger.Document.model_validate_json((config_map.data or {})["ledger.json"])
        served = sum(sum(pod.buckets.values()) for pod in document.pods.values())
        lines.append(
            f"  {config_map.metadata.name}: month {document.month}, {len(document.pods)} pods,"
            f" {served} requests"
        )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Truth:
    """What the simulated pods really proxied, per UTC month, counted at ``at``."""

    months: dict[str, int]
    at: datetime.datetime


def _report_counters(package: packaging.Package) -> dict[str, int]:
    document = json.loads(package.report_json)
    counters = document.get("counters") or []
    if isinstance(counters, dict):  # kong-3.5: nested
        counters = counters.get("buckets") or []
    return {c["bucket"]: int(c["request_count"]) for c in counters}


def against_truth(
    package: packaging.Package, *, truth: Truth, started: datetime.datetime, pods: int
) -> str:
    """report.json's counters beside the truth, and the bound their difference must keep:
    what the live pods served since the last round before the report read the ledger (one
    interval, and the time from that read to the truth's count), and what each replaced
    pod served after its last termination sample (a resample every few seconds)."""
    counters = _report_counters(package)
    buckets = sorted(set(counters) | set(truth.months), key=lambda b: (b == "UNKNOWN", b))
    lines = [
        "the report against the truth (what the simulated pods proxied, counted as the report"
        " was read back):",
        f"  {'bucket':<9} {'report':>7} {'truth':>7}",
    ]
    for bucket in buckets:
        truth_cell = str(truth.months.get(bucket, "-"))
        lines.append(f"  {bucket:<9} {counters.get(bucket, 0):>7} {truth_cell:>7}")
    reported, proxied = sum(counters.values()), sum(truth.months.values())
    lines.append(f"  {'total':<9} {reported:>7} {proxied:>7}")
    lag = (truth.at - started).total_seconds() + 1.0
    resample = metering_daemon.TERMINATION_RESAMPLE_SECONDS
    unsampled = RATE * pods * (INTERVAL_SECONDS + lag)
    lost = RATE * pods * resample
    lines += [
        "  UNKNOWN: served before metering began (the pods' first counters), as Kong books"
        " its own pre-2.7 traffic; the truth has it in its month",
        f"difference {proxied - reported} (truth - report), bound {unsampled + lost:.0f}:"
        f" traffic not sampled yet when the report read the ledger, {pods} pods x {RATE}/s x"
        f" ({INTERVAL_SECONDS} s interval + {lag:.1f} s until this count) = {unsampled:.0f};"
        f" and the replaced pods' last seconds, served after their last termination sample:"
        f" {pods} pods x {RATE}/s x {resample:g} s = {lost:.0f}",
    ]
    return "\n".join(lines)


def metering_json(package: packaging.Package) -> str:
    """metering.json in a few lines (the file itself goes to --out)."""
    if package.metering_json is None:
        return "metering.json: none (the report is not metered)"
    info = json.loads(package.metering_json)
    bound = "an upper bound" if info["upper_bound"] else "exact"
    return "\n".join(
        [
            f"metering.json: counters from the {info['counters']}, metered since"
            f" {info['metered_since']}, source {', '.join(info['sources'])} ({bound}), interval"
            f" {info['interval_seconds']} s, {info['pods_metered']} pods metered (gone ones"
            f" included), ledger {info['ledger']}",
            f"  months {json.dumps(info['months'], sort_keys=True)}",
        ]
    )


async def run(
    chosen: options.Options,
    *,
    clients: kube.Clients,
    fleet: sim_metering.MeteredFleet,
    console: terminal.Console,
) -> int:
    """Apply the request, let it sample, roll the fleet, rerun the report, show it all."""
    body = request()
    follower = _Request(clients, say=console.say)
    watch = asyncio.create_task(follower.watch())
    try:
        async with asyncio.timeout(chosen.timeout):
            return await _run(chosen, body=body, follower=follower, fleet=fleet, console=console)
    except TimeoutError:
        current = follower.status
        console.show(reporting.conditions(current))
        console.error(
            f"{cluster.NAMESPACE}/{cluster.REQUEST}: the metered run did not end within"
            f" {chosen.timeout:g} s (last phase: {current.phase}, sampling rounds seen:"
            f" {follower.rounds})"
        )
        return collect.EXIT_FAILED
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch


async def _run(
    chosen: options.Options,
    *,
    body: dict[str, Any],
    follower: _Request,
    fleet: sim_metering.MeteredFleet,
    console: terminal.Console,
) -> int:
    clients = follower.clients
    pods = len(fleet.live)
    # The pods have served since the fleet started: published now, so that the first round
    # finds the Prometheus plugin's series (with none yet, source auto reads status).
    fleet.traffic.step()
    await reporting.apply(clients, body)
    console.say(
        f"applied LicenseReportRequest {cluster.NAMESPACE}/{cluster.REQUEST}, spec"
        f" {json.dumps(body['spec'])}: the report runs at once (generation 1), and the"
        " operator's sampler starts"
    )
    await follower.until(lambda: follower.reported(rerun=None))
    await follower.until(lambda: follower.rounds >= 1)
    metered = follower.status.metering
    assert metered is not None
    console.show(_metering_status(metered))
    await follower.until(lambda: follower.rounds >= ROUNDS_BEFORE_ROLL)

    console.say(
        f"rolling update: {pods} new pods start; after {READY_AFTER:g} s the {pods} old ones are"
        f" deleted (deletionTimestamp: the operator samples each at once, then every"
        f" {metering_daemon.TERMINATION_RESAMPLE_SECONDS:g} s) and serve"
        f" {sim_metering.QUIT_WAIT:g} s more (kong quit --wait=15) ..."
    )
    old = list(fleet.live)
    new = await fleet.roll(batch=pods, ready_after=READY_AFTER)
    console.say(f"rolled: {', '.join(old)} gone; {', '.join(new)} serving")
    rolled = follower.rounds
    await follower.until(
        lambda: (
            follower.rounds > rolled
            and follower.status.metering is not None
            # A round after the update that sampled the new pods only.
            and follower.status.metering.pods_sampled == pods
        )
    )
    assert metered.ledger is not None
    console.show(await _ledger_maps(clients, fleet=metered.ledger))

    console.say(
        f"annotating {v1alpha1.RERUN_ANNOTATION}={RERUN}: a new report, whose counters come"
        " from the ledger"
    )
    await kube.call(
        clients.custom.patch_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        cluster.NAMESPACE,
        v1alpha1.PLURAL,
        cluster.REQUEST,
        {"metadata": {"annotations": {v1alpha1.RERUN_ANNOTATION: RERUN}}},
    )
    obj = await follower.until(lambda: follower.reported(rerun=RERUN))
    truth = Truth(months=fleet.truth_by_month(), at=fleet.clock.now())
    return await _show(chosen, obj=obj, clients=clients, truth=truth, pods=pods, console=console)


async def _show(
    chosen: options.Options,
    *,
    obj: dict[str, Any],
    clients: kube.Clients,
    truth: Truth,
    pods: int,
    console: terminal.Console,
) -> int:
    current = reporting.status_of(obj)
    if current.phase is v1alpha1.Phase.FAILED or current.report_config_map is None:
        console.show(reporting.conditions(current))
        console.error("the report after the rolling update Failed")
        return collect.EXIT_FAILED
    package = await reporting.read_package(
        clients, namespace=cluster.NAMESPACE, name=current.report_config_map
    )
    files = collecting.write(chosen.out, package)
    if package.metering_json is not None:
        # collect's writer knows report.json, nodes.json and the tar; metering.json goes beside.
        (chosen.out / packaging.METERING_MEMBER).write_bytes(package.metering_json)
        files.append(chosen.out / packaging.METERING_MEMBER)
    console.show(reporting.summary(obj, package))
    console.show(metering_json(package))
    assert current.started_at is not None
    started = datetime.datetime.fromisoformat(current.started_at)
    console.show(against_truth(package, truth=truth, started=started, pods=pods))
    console.show(f"read from ConfigMap {cluster.NAMESPACE}/{current.report_config_map}")
    console.show("wrote " + ", ".join(str(path) for path in files))
    if current.phase is v1alpha1.Phase.DEGRADED:
        return collect.EXIT_DEGRADED
    return collect.EXIT_COMPLETE
