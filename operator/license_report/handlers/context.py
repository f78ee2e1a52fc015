"""What every handler needs, set up once by ``license-report run`` and kept in kopf's memo."""

from __future__ import annotations

import dataclasses

import kopf

from license_report.reconcile import kube, run

_KEY = "license_report_context"


@dataclasses.dataclass(frozen=True)
class Context:
    clients: kube.Clients
    settings: run.Settings
    # Namespaces served; empty: every namespace.
    namespaces: tuple[str, ...] = ()


def memo(context: Context) -> kopf.Memo:
    return kopf.Memo({_KEY: context})


def of(memo: kopf.Memo) -> Context:
    context = memo[_KEY]
    assert isinstance(context, Context)
    return context
