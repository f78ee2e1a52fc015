"""The operator's Prometheus metrics: how report runs end, how long they take, what they reach.

Each operator keeps its metrics in a registry of its own (``Metrics``, kept in
the handlers' ``Context``), never in prometheus_client's global one: the tests
and the sandbox run several operators in one process, and a second set of
metrics of the same names would be refused by a shared registry (or, worse,
mixed with the first).

Label values are bounded: results and retry reasons are fixed sets of
constants; ``namespace`` and ``name`` of a request appear only on the
per-request gauges, which are removed when the request is deleted (``forget``).
Pod names never become labels: a fleet of 10,000 pods would be 10,000 series.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import time
from collections.abc import AsyncIterator
from typing import Literal, get_args

import prometheus_client
from aiohttp import web
from prometheus_client import aiohttp as prometheus_aiohttp

from license_report.api import v1alpha1
from license_report.reconcile import run

Result = Literal["succeeded", "degraded", "failed"]
RESULTS: tuple[Result, ...] = get_args(Result)
PodState = Literal["reached", "failed"]
POD_STATES: tuple[PodState, ...] = get_args(PodState)

#: From a one-pod request answering at once to a run that spent the default
#: retry budget (300 s) and more: a report of 1,000 pods takes about 1.3 s.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

PATH = "/metrics"


class ServeError(Exception):
    """The metrics endpoint could not listen (a port in use, an address not on this host)."""


class Metrics:
    """One operator's metrics and the registry that exposes them."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        # The usual process figures (memory, CPU, open files), in our registry.
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)
        prometheus_client.GCCollector(registry=self.registry)
        self.runs = prometheus_client.Counter(
            "license_report_runs_total",
            "Report runs that ended, by result: succeeded, degraded (a report with "
            "gateway pods not reached) or failed (no report, after bounded retries).",
            ["result"],
            registry=self.registry,
        )
        self.retries = prometheus_client.Counter(
            "license_report_run_retries_total",
            "Report attempts that met a transient problem and were retried, by reason "
            "(the CamelCase reason the request's status shows).",
            ["reason"],
            registry=self.registry,
        )
        self.duration = prometheus_client.Histogram(
            "license_report_run_duration_seconds",
            "Time from a run's first attempt to its result, retries included, by result.",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.last_success = prometheus_client.Gauge(
            "license_report_last_success_timestamp_seconds",
            "When the request's last Succeeded report was written (Unix time).",
            ["namespace", "name"],
            registry=self.registry,
        )
        self.gateway_pods = prometheus_client.Gauge(
            "license_report_gateway_pods",
            "Gateway pods in the request's latest report (Succeeded or Degraded), "
            "by whether they were reached.",
            ["namespace", "name", "state"],
            registry=self.registry,
        )
        # Metering (docs/metering.md): what the samplers read and write.
        self.samples = prometheus_client.Counter(
            "license_report_metering_samples_total",
            "Gateway pod counters read by the metering samplers, by source (prometheus: "
            "exact; status: an upper bound) and why (round, or termination: a pod that "
            "started terminating, sampled at once).",
            ["source", "trigger"],
            registry=self.registry,
        )
        self.sample_failures = prometheus_client.Counter(
            "license_report_metering_sample_failures_total",
            "Gateway pods whose counter could not be read, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.ledger_writes = prometheus_client.Counter(
            "license_report_metering_ledger_writes_total",
            "Ledger ConfigMaps written (created or replaced).",
            registry=self.registry,
        )
        self.ledger_conflicts = prometheus_client.Counter(
            "license_report_metering_ledger_conflicts_total",
            "Ledger writes refused by their resourceVersion precondition (409) and redone "
            "against the ledger as it was then.",
            registry=self.registry,
        )
        self.pods_metered = prometheus_client.Gauge(
            "license_report_metering_pods",
            "Gateway pods read in the request's last metering round.",
            ["namespace", "name"],
            registry=self.registry,
        )
        # Every result from the start, at zero: a rate() or an alert on
        # result="failed" needs the series before the first failure.
        for result in RESULTS:
            self.runs.labels(result=result)
            self.duration.labels(result=result)


@dataclasses.dataclass(frozen=True)
class Stopwatch:
    """Seconds since a run's first attempt: kopf's ``runtime`` when this attempt began
    (the attempts before it, and the waits between them) plus this attempt's own time."""

    before: float
    started: float = dataclasses.field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return self.before + time.monotonic() - self.started


def observe_run(
    metrics: Metrics,
    *,
    namespace: str,
    name: str,
    result: Result,
    duration: float,
    reached: int | None = None,
    failed: int | None = None,
    now: float | None = None,
) -> None:
    """Record a run that ended (not an attempt that will be retried: ``observe_retry``).

    ``reached`` and ``failed`` count the gateway pods of the report written;
    ``None`` (a failed run wrote none) leaves the previous report's figures.
    ``now`` (Unix time, default: the clock) is the success time of a succeeded run.
    """
    metrics.runs.labels(result=result).inc()
    metrics.duration.labels(result=result).observe(duration)
    if result == "succeeded":
        metrics.last_success.labels(namespace=namespace, name=name).set(
            time.time() if now is None else now
        )
    if reached is not None:
        metrics.gateway_pods.labels(namespace=namespace, name=name, state="reached").set(reached)
    if failed is not None:
        metrics.gateway_pods.labels(namespace=namespace, name=name, state="failed").set(failed)


def observe_outcome(
    metrics: Metrics, *, namespace: str, name: str, outcome: run.RunOutcome, duration: float
) -> None:
    """Record a run that wrote its report: Degraded when some gateway pod was not reached."""
    nodes = outcome.collection.gateway_nodes
    reached = sum(1 for node in nodes if node.reachable)
    observe_run(
        metrics,
        namespace=namespace,
        name=name,
        result="degraded" if outcome.collection.failures else "succeeded",
        duration=duration,
        reached=reached,
        failed=len(nodes) - reached,
    )


def observe_retry(metrics: Metrics, *, reason: str) -> None:
    metrics.retries.labels(reason=reason).inc()


def restore(metrics: Metrics, *, namespace: str, name: str, status: v1alpha1.Status) -> None:
    """Set a request's gauges from its status, for a run that ended before this operator
    started: without it, a restart would blank them until the next run (a month away for
    a monthly schedule), and an alert on the last success time would fire or go blind.

    The last success time is known only while the status still says Succeeded; the pod
    figures come from the summary of the last report (Succeeded or Degraded).
    """
    if status.phase == v1alpha1.Phase.SUCCEEDED and status.completed_at:
        try:
            completed = datetime.datetime.fromisoformat(status.completed_at)
        except ValueError:  # not written by us: no time is better than a wrong one
            completed = None
        if completed is not None and completed.tzinfo is not None:
            metrics.last_success.labels(namespace=namespace, name=name).set(completed.timestamp())
    if status.summary is not None:
        reached = status.summary.pods_reached
        failed = status.summary.gateway_pods - reached
        metrics.gateway_pods.labels(namespace=namespace, name=name, state="reached").set(reached)
        metrics.gateway_pods.labels(namespace=namespace, name=name, state="failed").set(failed)


def forget(metrics: Metrics, *, namespace: str, name: str) -> None:
    """Remove a deleted request's series (a no-op for series it never had)."""
    metrics.last_success.remove(namespace, name)
    for state in POD_STATES:
        metrics.gateway_pods.remove(namespace, name, state)
    metrics.pods_metered.remove(namespace, name)


@contextlib.asynccontextmanager
async def serve(metrics: Metrics, *, host: str | None, port: int) -> AsyncIterator[int]:
    """Serve ``/metrics`` over plain HTTP in the running loop (kopf's), yielding the port
    (the one bound when ``port`` is 0). ``host`` None: every interface.

    An aiohttp server, as kopf's own liveness endpoint is, rather than
    prometheus_client's thread-based server: nothing outlives the operator's
    loop, and a port already in use fails the start instead of a thread.
    """
    app = web.Application()
    app.router.add_get(PATH, prometheus_aiohttp.make_aiohttp_handler(metrics.registry))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host=host, port=port)
        try:
            await site.start()
        except OSError as error:
            where = f"{host or '*'}:{port}"
            raise ServeError(
                f"cannot serve metrics on {where}: {error.strerror or error}"
            ) from None
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
