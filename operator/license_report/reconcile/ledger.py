"""The metering ledger's ConfigMaps: read by name, written with resourceVersion preconditions.

The documents (``report.ledger``) live in the request's namespace, one
ConfigMap each, named ``license-report-ledger-<fleet>-<YYYY-MM>-<shard>`` and
labelled with the fleet and the month. They are the only copy of what a
DB-less fleet served, so they outlive requests: labelled, never owned (no
ownerReferences, so deleting or renaming a request in Git loses nothing).

Every write replaces exactly the version read (or creates a shard that was not
there). A conflict means another writer (a second request on the same fleet,
the termination sampler, an operator replica) got there first: the ledger is
read again and the same samples applied again, so each delta is taken against
the ``last`` counter as written and nothing is counted twice. A
``ledger.json`` that does not parse is never overwritten: `LedgerUnreadable`
names it, and a person decides.

Documents are read by name (a month's shards are numbered from 0 with no gap),
never listed: the operator's RBAC has no ``list`` on ConfigMaps, so it cannot
read a ConfigMap whose name it does not already know.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import itertools
import random
from collections.abc import Iterable, Sequence
from typing import Any, Final

import pydantic

from license_report.api import errors, v1alpha1
from license_report.reconcile import kube
from license_report.report import ledger

FLEET_LABEL: Final = f"{v1alpha1.GROUP}/ledger"
MONTH_LABEL: Final = f"{v1alpha1.GROUP}/ledger-month"
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "license-report-operator"}
DATA_KEY: Final = "ledger.json"
#: Tries of one `record` (a read, an apply and the writes) before a conflict is raised:
#: each conflict means another writer succeeded, so this bounds only a pathological race.
ATTEMPTS: Final = 10
#: Seconds before the first retry after a conflict, doubled each time, each wait drawn at
#: random below it: writers that collided do not collide again in step (client-go's
#: RetryOnConflict backs off the same way).
CONFLICT_BACKOFF_SECONDS: Final = 0.01
_jitter = random.SystemRandom()


class LedgerUnreadable(errors.ReportError):
    """A ledger ConfigMap whose ledger.json is not a ledger document (corrupted, edited by
    hand, or written by a later schema): it is left as it is, and named."""

    reason = errors.Reason.LEDGER_UNREADABLE


@dataclasses.dataclass(frozen=True)
class Stored:
    """A document and the resourceVersion it was read at (None: not written yet)."""

    document: ledger.Document
    resource_version: str | None


@dataclasses.dataclass(frozen=True)
class Recorded:
    """What one `record` did, for the metrics."""

    writes: int
    conflicts: int
    counted: int
    stale: int
    #: When metering of the fleet began, as the documents written say (None: none written).
    since: datetime.datetime | None = None


async def _month(
    *, clients: kube.Clients, namespace: str, fleet_key: str, month: str
) -> list[Stored]:
    """One month's documents: shard 0, 1, ... up to the first that does not exist."""
    found: list[Stored] = []
    while True:
        name = ledger.document_name(fleet=fleet_key, month=month, shard=len(found))
        try:
            item = await kube.call(clients.core.read_namespaced_config_map, name, namespace)
        except kube.NotFound:
            return found
        found.append(_parse(item, namespace=namespace, fleet_key=fleet_key))


async def read(
    *, clients: kube.Clients, namespace: str, fleet_key: str, months: Iterable[str]
) -> list[Stored]:
    """The fleet's documents of ``months`` (``YYYY-MM``; `ledger.months_back` gives a
    report's), read by name, the months at once.

    Raises `LedgerUnreadable` for a ConfigMap whose ledger.json does not parse, or whose
    content is not the document its name and labels say.
    """
    found = await asyncio.gather(
        *(
            _month(clients=clients, namespace=namespace, fleet_key=fleet_key, month=month)
            for month in sorted(set(months))
        )
    )
    return [one for month in found for one in month]


def _parse(item: Any, *, namespace: str, fleet_key: str) -> Stored:
    name = item.metadata.name
    text = (item.data or {}).get(DATA_KEY)
    where = f"ConfigMap {namespace}/{name}, key {DATA_KEY}"
    if text is None:
        raise LedgerUnreadable(f"{where}: missing; the ledger ConfigMap is left as it is")
    try:
        document = ledger.Document.model_validate_json(text)
    except pydantic.ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        raise LedgerUnreadable(
            f"{where}: not a ledger document ({problem['msg']} at "
            f"{'.'.join(str(part) for part in problem['loc']) or 'the top'}); it is left as it "
            "is: restore it or delete it"
        ) from None
    if document.fleet != fleet_key or document.name != name:
        raise LedgerUnreadable(
            f"{where}: holds {document.name}, not what its name says; it is left as it is"
        )
    return Stored(document=document, resource_version=item.metadata.resource_version)


def config_map(document: ledger.Document, *, namespace: str) -> dict[str, Any]:
    """The ConfigMap holding a document: labelled with its fleet and month, owned by nobody."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": document.name,
            "namespace": namespace,
            "labels": {FLEET_LABEL: document.fleet, MONTH_LABEL: document.month, **MANAGED_BY},
        },
        "data": {DATA_KEY: document.dumps().decode()},
    }


def months_to_read(samples: Iterable[ledger.Sample]) -> set[str]:
    """The months of the samples and the month before each: where their pods' ``last`` is."""
    months: set[str] = set()
    for sample in samples:
        months.add(ledger.month_of(sample.at))
        first = sample.at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        months.add(ledger.month_of(first - datetime.timedelta(days=1)))
    return months


async def _shards(
    *, clients: kube.Clients, namespace: str, fleet_key: str, month: str, hint: int
) -> int:
    """How many shards ``month`` has: from ``hint`` (a count seen before) up to the first
    name that does not exist (a count only grows: shards are never deleted one by one)."""
    count = hint
    while True:
        name = ledger.document_name(fleet=fleet_key, month=month, shard=count)
        try:
            await kube.call(
                clients.core.read_namespaced_config_map, name, namespace, _preload_content=False
            )
        except kube.NotFound:
            return count
        count += 1


def _older(samples: Sequence[ledger.Sample], *, after: str) -> list[str]:
    """The retention's months before ``after``, newest first."""
    newest = max(sample.at for sample in samples)
    return [
        month
        for month in ledger.months_back(now=newest, count=ledger.RETENTION_MONTHS)
        if month < after
    ]


async def _needed(
    *,
    clients: kube.Clients,
    namespace: str,
    fleet_key: str,
    samples: Sequence[ledger.Sample],
    counts: dict[str, int],
) -> list[Stored]:
    """The documents a `record` of ``samples`` needs, newest first, and no more.

    A month's newest shard is always read (new pods go there); older shards and the month
    before only while some sample's pod is not found yet. A pod's entry is in one shard
    a month, and pods that came with churn are in the newest ones, so the shards of pods
    long gone are not read at every round: a month of daily rolling updates is 13 shards
    at 1,000 pods (docs/benchmarks.md, issue 14). ``counts``: shard counts seen before,
    by ``<fleet>/<month>``, kept up to date (a hint: a count is checked upward every time).
    """
    wanted = {sample.uid for sample in samples}
    found: list[Stored] = []
    months = sorted(months_to_read(samples), reverse=True)
    for month in [*months, *_older(samples, after=months[-1])]:
        if month not in months:
            # Only pods that ran before the months read can be further back (a pod the
            # operator could not sample for a whole month): their `last` is there, and
            # without it they would be counted again from zero.
            oldest = datetime.datetime.strptime(months[-1], "%Y-%m").replace(tzinfo=datetime.UTC)
            wanted = {
                sample.uid
                for sample in samples
                if sample.uid in wanted
                and (sample.started or sample.pod_started or oldest) < oldest
            }
            if not wanted:
                return found
        count = await _shards(
            clients=clients,
            namespace=namespace,
            fleet_key=fleet_key,
            month=month,
            hint=counts.get(f"{fleet_key}/{month}", 0),
        )
        counts[f"{fleet_key}/{month}"] = count
        for shard in reversed(range(count)):
            if not wanted and shard != count - 1:
                break
            name = ledger.document_name(fleet=fleet_key, month=month, shard=shard)
            try:
                item = await kube.call(clients.core.read_namespaced_config_map, name, namespace)
            except kube.NotFound:
                break  # trimmed meanwhile: nothing of this month is needed any more
            one = _parse(item, namespace=namespace, fleet_key=fleet_key)
            holding = wanted & one.document.pods.keys()
            if holding or (not found and shard == count - 1):
                # Kept: it holds sampled pods, or it is where new pods go (the newest shard
                # of the newest month). The rest is let go at once: one shard parsed at a
                # time, not a month of them.
                found.append(one)
            wanted -= holding
        if not wanted:
            return found
    return found


async def record(
    *,
    clients: kube.Clients,
    namespace: str,
    fleet_key: str,
    samples: Sequence[ledger.Sample],
    since: datetime.datetime,
    budget: int = ledger.BUDGET_BYTES,
    attempts: int = ATTEMPTS,
    counts: dict[str, int] | None = None,
) -> Recorded:
    """Add ``samples`` to the fleet's ledger: read, apply, write each changed document.

    On a conflict the ledger is read again and the same samples applied again (those
    another writer's documents already cover are then stale and skipped), at most
    ``attempts`` times; then `kube.Conflict`. Other refusals raise as `kube.call` wraps
    them (transient for 429 and 5xx). Documents written before a failure stay written:
    each is whole on its own (its pods' ``last`` moved with their deltas). ``counts``: the
    caller's memory of each month's shard count (`_needed`), for its next call.
    """
    if not samples:
        # A round in which no pod could be read (each is a failure of its own in the status):
        # nothing to add, and no month to look in.
        return Recorded(writes=0, conflicts=0, counted=0, stale=0)
    counts = {} if counts is None else counts
    writes = conflicts = 0
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(_jitter.uniform(0, CONFLICT_BACKOFF_SECONDS * 2 ** (attempt - 1)))
        stored = await _needed(
            clients=clients,
            namespace=namespace,
            fleet_key=fleet_key,
            samples=samples,
            counts=counts,
        )
        versions = {one.document.name: one.resource_version for one in stored}
        changes = ledger.apply(
            [one.document for one in stored],
            samples,
            fleet=fleet_key,
            since=since,
            budget=budget,
        )
        try:
            for document in changes.documents:
                await _write(
                    clients, document, namespace=namespace, version=versions.get(document.name)
                )
                writes += 1
        except kube.Conflict:
            # Someone else wrote (or removed) a document since it was read: count the
            # shards again too (one may have been added, or removed by hand).
            conflicts += 1
            counts.clear()
            continue
        return Recorded(
            writes=writes,
            conflicts=conflicts,
            counted=changes.counted,
            stale=changes.stale,
            since=min((document.since for document in changes.documents), default=None),
        )
    raise kube.Conflict(
        status=409,
        http_reason=f"the ledger {fleet_key} in {namespace} kept changing ({attempts} tries)",
    )


async def _write(
    clients: kube.Clients, document: ledger.Document, *, namespace: str, version: str | None
) -> None:
    body = config_map(document, namespace=namespace)
    if version is None:
        await kube.call(clients.core.create_namespaced_config_map, namespace, body)
        return
    body["metadata"]["resourceVersion"] = version
    try:
        await kube.call(clients.core.replace_namespaced_config_map, document.name, namespace, body)
    except kube.NotFound:
        # Deleted since it was read: the same as changed since (read again and retry).
        raise kube.Conflict(
            status=409, http_reason=f"ConfigMap {namespace}/{document.name} is gone"
        ) from None


#: Months before retention that `trim` looks at: a ledger whose operator was stopped for
#: longer keeps older documents (found by name only, never listed).
TRIM_LOOKBACK_MONTHS: Final = 24


async def trim(
    *,
    clients: kube.Clients,
    namespace: str,
    fleet_key: str,
    now: datetime.datetime,
    retention_months: int = ledger.RETENTION_MONTHS,
) -> list[str]:
    """Delete the fleet's documents past retention, by name; their names.

    The months just past retention (`TRIM_LOOKBACK_MONTHS` of them) are deleted shard by
    shard without being read, so an old unreadable document is trimmed like any other; one
    deleted meanwhile by someone else is not an error.
    """
    ended = ledger.months_back(now=now, count=retention_months + TRIM_LOOKBACK_MONTHS)[
        retention_months:
    ]
    deleted: list[str] = []
    for month in ended:
        for shard in itertools.count():
            name = ledger.document_name(fleet=fleet_key, month=month, shard=shard)
            try:
                await kube.call(clients.core.delete_namespaced_config_map, name, namespace)
            except kube.NotFound:
                break
            deleted.append(name)
    return sorted(deleted)
