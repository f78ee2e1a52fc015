"""Metering: a kopf daemon per request samples its fleet into the ledger (docs/metering.md).

Every ``spec.metering.intervalSeconds`` the daemon re-reads its request (a
spec change takes effect at the next round), runs one round
(`reconcile.metering.Sampler.round`: the verdict, every pod's counter, the
ledger write) and writes ``status.metering``. Meanwhile a plain watch per
gateway namespace (`reconcile.podwatch`) tells it when a pod starts
terminating: that pod is sampled at once and again every few seconds while it
still answers, so a rolling update loses only the last seconds a pod serves
(the Kong chart's ``kong quit --wait=15`` keeps the status listener up for 15 s).

The daemon writes only the ledger and ``status.metering``: reports still run
once per generation, on the rerun annotation or on the schedule, and read the
ledger. Its status writes leave every other status field as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import kopf
import pydantic

from license_report.api import v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import lifecycle, reporting
from license_report.reconcile import kube, metering, podwatch, statuses
from license_report.report import ledger
from license_report.sources import portforward

logger = logging.getLogger(__name__)

#: Seconds between a terminating pod's samples, while it still answers.
TERMINATION_RESAMPLE_SECONDS = 3.0
#: How long a terminating pod is sampled at most (the Kong chart's grace period is 30 s).
TERMINATION_WINDOW_SECONDS = 60.0


def _status(done: metering.Round) -> v1alpha1.Status:
    problems = [f"{f.pod}: {f.message}" for f in done.failures[:5]]
    if len(done.failures) > 5:
        problems.append(f"and {len(done.failures) - 5} more pods")
    if done.no_series:
        problems.append(
            f"{done.no_series} pods show no request counter on /metrics (no prometheus plugin "
            "instance with status_code_metrics, or no routed traffic yet): read as 0"
        )
    active = done.verdict.active
    return v1alpha1.Status(
        metering=v1alpha1.MeteringStatus(
            active=active,
            why=done.verdict.why,
            ledger=done.fleet if active else None,
            since=None if done.since is None else statuses.timestamp(done.since),
            last_sample_time=statuses.timestamp(done.at) if active else None,
            pods_sampled=done.sampled if active else None,
            sources=list(done.sources) or None,
            last_error="; ".join(problems) or None,
        )
    )


def _observe(context: operator_context.Context, done: metering.Round, *, trigger: str) -> None:
    for source, count in done.by_source.items():
        context.metrics.samples.labels(source=source, trigger=trigger).inc(count)
    for failure in done.failures:
        context.metrics.sample_failures.labels(reason=str(failure.reason)).inc()
    context.metrics.ledger_writes.inc(done.writes)
    context.metrics.ledger_conflicts.inc(done.conflicts)


class _Fleet:
    """One request's sampler as its spec now stands, and its terminating pods' samplers."""

    def __init__(
        self, context: operator_context.Context, *, namespace: str, name: str, spec: v1alpha1.Spec
    ) -> None:
        self.context = context
        self.namespace = namespace
        self.name = name
        self.connection = portforward.Connection(
            configuration=context.clients.api.configuration, user_agent=kube.USER_AGENT
        )
        self.sampler = metering.Sampler(
            clients=context.clients, namespace=namespace, spec=spec, connection=self.connection
        )
        self.active = False
        self.terminations: set[asyncio.Task[None]] = set()

    async def round(self) -> metering.Round:
        done = await self.sampler.round(now=self.context.clock.now())
        self.active = done.verdict.active
        _observe(self.context, done, trigger="round")
        self.context.metrics.pods_metered.labels(namespace=self.namespace, name=self.name).set(
            done.sampled
        )
        return done

    async def watch(self, namespace: str, selector: str) -> None:
        async for obj in podwatch.terminating(
            connection=self.connection, namespace=namespace, selector=selector
        ):
            pod = metering.parse_pod(obj)
            if pod is None or not self.active:
                continue
            task = asyncio.ensure_future(self._terminating(pod))
            self.terminations.add(task)
            task.add_done_callback(self.terminations.discard)

    async def _terminating(self, pod: metering.MeterPod) -> None:
        """Sample a terminating pod at once, then every few seconds while it answers."""
        clock = self.context.clock
        ends = asyncio.get_running_loop().time() + clock.loop_seconds(TERMINATION_WINDOW_SECONDS)
        while True:
            try:
                done = await self.sampler.sample(pod, now=clock.now())
            except kube.ApiError as error:
                # The write refused (a 500, endless conflicts): the pod still serves, so the
                # next sample reads its counter again and its delta covers this one's. Giving
                # up here would lose all it served since the last round.
                logger.warning(
                    "metering %s/%s: ledger write failed: %s", pod.namespace, pod.pod, error
                )
                self.context.metrics.sample_failures.labels(reason=str(error.reason)).inc()
            else:
                _observe(self.context, done, trigger="termination")
                if done.failures:
                    return  # it no longer answers: its listener closed
            if asyncio.get_running_loop().time() >= ends:
                return
            await asyncio.sleep(clock.loop_seconds(TERMINATION_RESAMPLE_SECONDS))

    async def close(self) -> None:
        for task in list(self.terminations):
            task.cancel()
        await asyncio.gather(*self.terminations, return_exceptions=True)


async def serve(
    context: operator_context.Context,
    *,
    namespace: str,
    name: str,
    stopped: kopf.DaemonStopped | None = None,
) -> None:
    """Meter one request's fleet until it is deleted, metering is turned off, kopf stops the
    daemon (``stopped``: the operator exits, the request goes), or the task is cancelled."""
    fleet: _Fleet | None = None
    watches: list[asyncio.Task[None]] = []
    watched: tuple[str, ...] = ()
    trimmed: str | None = None  # the month the ledger was last trimmed in
    written: v1alpha1.Status | None = None  # the last status.metering written
    try:
        while True:
            obj = await statuses.read_request(context.clients, namespace=namespace, name=name)
            if obj is None:
                return
            try:
                spec = v1alpha1.Spec.model_validate(obj.get("spec") or {})
            except pydantic.ValidationError:
                return  # the request handler reports it (Failed, InvalidSpec)
            if spec.metering.enabled is False:
                # kopf stops this daemon too (its filter); the run that the spec change
                # starts writes status.metering (`statuses.running`).
                return
            if fleet is None:
                fleet = _Fleet(context, namespace=namespace, name=name, spec=spec)
            fleet.sampler.spec = spec
            wanted = (*fleet.sampler.namespaces, metering.label(spec))
            if wanted != watched:
                await _stop(watches)
                selector = metering.label(spec)
                watches = [
                    asyncio.ensure_future(fleet.watch(where, selector))
                    for where in fleet.sampler.namespaces
                ]
                watched = wanted
            try:
                done = await fleet.round()
                status = _status(done)
                month = ledger.month_of(done.at)
                if done.verdict.active and month != trimmed:
                    # Once a month (and at start): the months past retention go.
                    deleted = await fleet.sampler.trim(now=done.at)
                    if deleted:
                        logger.info("metering %s/%s: ledger trimmed: %s", namespace, name, deleted)
                    trimmed = month
            except kube.ApiError as error:
                # Listing the pods or writing the ledger was refused: said in the status, and
                # the next round tries again (the ledger's last counters make up for it).
                context.metrics.sample_failures.labels(reason=str(error.reason)).inc()
                status = v1alpha1.Status(metering=v1alpha1.MeteringStatus(last_error=str(error)))
            if status != written:  # an unmetered fleet's verdict is written once, not each round
                await _write(context, namespace, name, status)
                written = status
            pause = context.clock.loop_seconds(spec.metering.interval_seconds)
            if stopped is None:
                await asyncio.sleep(pause)
            elif await stopped.wait(pause):
                return  # asked to stop: the ledger holds every round written
    finally:
        await _stop(watches)
        if fleet is not None:
            await fleet.close()


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _write(
    context: operator_context.Context, namespace: str, name: str, status: v1alpha1.Status
) -> None:
    with contextlib.suppress(kube.NotFound):  # deleted meanwhile: nothing to say
        await statuses.write(context.clients, namespace=namespace, name=name, status=status)


def _metered(spec: Mapping[str, Any], **_: Any) -> bool:
    return (spec.get("metering") or {}).get("enabled") is not False


@kopf.daemon(*reporting.RESOURCE, when=_metered, cancellation_timeout=5.0)
async def meter(
    *,
    name: str,
    namespace: str | None,
    retry: int,
    memo: Any,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    if namespace is None:
        return
    context = operator_context.of(memo)
    try:
        await serve(context, namespace=namespace, name=name, stopped=stopped)
    except kube.ApiError as error:
        # Reading the request refused for a while: kopf restarts the daemon after the
        # operator's backoff; the ledger's last counters make up for the rounds missed.
        raise lifecycle.refused(context, error, retry=retry, what="metering") from None
