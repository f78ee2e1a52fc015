"""What every handler needs, set up once by ``license-report run`` and kept in kopf's memo."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from typing import Protocol

import kopf

from license_report.handlers import metrics as operator_metrics
from license_report.reconcile import kube, run

_KEY = "license_report_context"


class Clock(Protocol):
    """The time schedules are evaluated in, and how long the loop waits for a span of it."""

    def now(self) -> datetime.datetime: ...

    def loop_seconds(self, seconds: float) -> float: ...


@dataclasses.dataclass(frozen=True)
class SystemClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def loop_seconds(self, seconds: float) -> float:
        return seconds


@dataclasses.dataclass(frozen=True)
class Context:
    clients: kube.Clients
    settings: run.OperatorSettings
    # Namespaces served; empty: every namespace.
    namespaces: tuple[str, ...] = ()
    clock: Clock = SystemClock()
    # Per request uid: set when the request changes, to wake its schedule's daemon.
    wakeups: dict[str, asyncio.Event] = dataclasses.field(default_factory=dict)
    # This operator's Prometheus metrics, in a registry of its own (see handlers.metrics).
    metrics: operator_metrics.Metrics = dataclasses.field(default_factory=operator_metrics.Metrics)


def memo(context: Context) -> kopf.Memo:
    return kopf.Memo({_KEY: context})


def of(memo: kopf.Memo) -> Context:
    context = memo[_KEY]
    assert isinstance(context, Context)
    return context
