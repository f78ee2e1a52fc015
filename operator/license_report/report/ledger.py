"""The metering ledger of one fleet: what each gateway pod served, by month, and the last
counter read from it, so that counts survive pod churn and the operator's own restarts.

Where Kong keeps no license counters (DB-less, data planes without telemetry,
Kong OSS) the operator samples each pod's counter and turns consecutive
samples into *deltas* here. This module is pure (no I/O): `apply` takes the
documents as read and returns those to write; ``reconcile.ledger`` reads and
writes them as ConfigMaps with resourceVersion preconditions.

The ledger belongs to the *fleet* (its gateway namespaces and selector, see
`fleet_key`), not to a request, so renaming a request, or two requests on the
same fleet, neither loses nor doubles anything: every delta is taken against
the ``last`` counter of the ledger as written. A pod's ``last`` and its new
delta always sit in the same document, so one write moves both: if the
operator dies between sampling and writing, the next sample's delta covers
the gap, and nothing is counted twice.

Documents are per UTC month written in (``month``), sharded below a byte
budget. A delta goes to the UTC month of the sample that observed it (Kong's
containers count in UTC); a pod first seen after metering began has served
everything since its start, which goes to its start month; what a pod served
before metering began goes to ``UNKNOWN``, as Kong's pre-2.7 traffic does.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import pydantic

from license_report.report import window

if TYPE_CHECKING:  # the models import croniter, which `collect` never needs (tests/cli)
    from license_report.api import v1alpha1

SCHEMA_VERSION: Final = 1
#: What one document's ``ledger.json`` may hold before a new shard is started: the API
#: server refuses a ConfigMap whose data passes 1 MiB; the rest is room for the entries
#: already in the document to grow (a new bucket, longer counters) until the month ends.
BUDGET_BYTES: Final = 900_000
#: Months of documents kept: Kong 2.x reports 24 months, plus the month being written.
RETENTION_MONTHS: Final = 25
UNKNOWN: Final = window.UNKNOWN_BUCKET

Source = Literal["prometheus", "status"]
#: The Prometheus plugin's per-route counter: proxied requests only, exact.
PROMETHEUS: Final = "prometheus"
#: ``GET /status`` ``server.total_requests``: every request nginx served (an upper bound).
STATUS: Final = "status"

_MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


#: An aware moment, kept in UTC (a naive one is refused: its month would be a guess).
Moment = Annotated[pydantic.AwareDatetime, pydantic.AfterValidator(_utc)]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Sample(_Model):
    """One reading of one gateway pod's counter, as the sampler took it."""

    uid: str = pydantic.Field(min_length=1)
    pod: str
    namespace: str
    node_id: str | None = None
    started: Moment | None = None
    """When the container started (its state's ``startedAt``): the counter counts from it."""
    pod_started: Moment | None = None
    """The pod's ``status.startTime``."""
    restarts: int = pydantic.Field(default=0, ge=0)
    """The container's ``restartCount``: a rise is a restart even if the counter rose too."""
    source: Source
    counter: int = pydantic.Field(ge=0)
    """The raw value read: the sum of the Prometheus series, or ``total_requests``."""
    at: Moment
    probes: int = pydantic.Field(default=0, ge=0)
    """Kubelet probe requests since the container started, up to ``at``, from the pod's
    probe specs (the caller's estimate); 0 for ``prometheus``, which never counts them."""
    own_requests: int = pydantic.Field(default=1, ge=1)
    """Requests this sample made to the pod's nginx up to the reading, that one included
    (``/metrics`` answering 404, then ``/status``: 2); ``status`` takes them out."""


class Last(_Model):
    """The latest sample of a pod that the ledger took into account."""

    counter: int = pydantic.Field(ge=0)
    source: Source
    restarts: int = pydantic.Field(ge=0)
    probes: int = pydantic.Field(ge=0)
    at: Moment
    started: Moment | None


class Pod(_Model):
    """What one pod (by UID) served, as far as one document holds it."""

    pod: str
    namespace: str
    node_id: str | None
    buckets: dict[str, int]
    """Requests per month (``YYYY-MM`` or ``UNKNOWN``): the month a delta was observed in,
    which may be before the document's own month (a pod's start month at first sight)."""
    estimated: bool
    """Some of it came from ``status``: an upper bound, not an exact count."""
    sources: list[Source]
    samples: int = pydantic.Field(ge=0)
    last: Last


class Document(_Model):
    """One ConfigMap's ``ledger.json``: one shard of one fleet's month."""

    schema_version: Literal[1] = SCHEMA_VERSION
    fleet: str = pydantic.Field(min_length=1)
    month: str = pydantic.Field(pattern=_MONTH_PATTERN)
    """The UTC month this document was written in (not the months of its buckets)."""
    shard: int = pydantic.Field(ge=0)
    since: Moment
    """When metering of this fleet began: the earliest of any document, carried forward."""
    pods: dict[str, Pod]

    @property
    def name(self) -> str:
        return document_name(fleet=self.fleet, month=self.month, shard=self.shard)

    def dumps(self) -> bytes:
        """The document as stored: compact and with sorted keys, so that one content is one
        byte string (its size is what the budget counts)."""
        return _dumps(self.model_dump(mode="json"))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def fleet_key(*, namespaces: Iterable[str], selector: v1alpha1.LabelSelector) -> str:
    """The ledger's key: 12 hex digits of the SHA-256 of the fleet's gateway namespaces
    (sorted) and label selector (canonical JSON: requirements and their values sorted), so
    that the same fleet written in another order is the same ledger."""
    raw = selector.model_dump(mode="json", by_alias=True, exclude_none=True)
    canonical: dict[str, Any] = {}
    if raw.get("matchLabels"):
        canonical["matchLabels"] = raw["matchLabels"]
    expressions = [
        {**expression, "values": sorted(expression.get("values") or [])}
        for expression in raw.get("matchExpressions") or []
    ]
    if expressions:
        canonical["matchExpressions"] = sorted(expressions, key=_dumps)
    fleet = {"namespaces": sorted(set(namespaces)), "selector": canonical}
    return hashlib.sha256(_dumps(fleet)).hexdigest()[:12]


def month_of(moment: datetime.datetime) -> str:
    """The ``YYYY-MM`` of a moment, in UTC."""
    utc = _utc(moment)
    return f"{utc.year:04d}-{utc.month:02d}"


def document_name(*, fleet: str, month: str, shard: int) -> str:
    return f"license-report-ledger-{fleet}-{month}-{shard}"


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def months_back(*, now: datetime.datetime, count: int) -> list[str]:
    """The ``count`` months ending with ``now``'s (UTC), newest first."""
    last = _month_index(month_of(now))
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(last, last - count, -1)]


# --- apply ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Changes:
    """What `apply` made of a batch of samples."""

    documents: tuple[Document, ...]
    """Every document to write (changed or new), by name; the others are as they were."""
    counted: int
    """Requests added over all buckets."""
    applied: int
    stale: int
    """Samples no newer than the ledger's ``last`` of their pod (another writer's, or the
    same batch applied again after a write that did get through): skipped."""


def apply(
    state: Sequence[Document],
    samples: Iterable[Sample],
    *,
    fleet: str,
    since: datetime.datetime,
    budget: int = BUDGET_BYTES,
) -> Changes:
    """The documents to write for ``samples``, from the documents as read (left unchanged).

    ``since``: when metering began as the caller knows it; the earliest ``since`` of the
    documents wins, so the start of a fleet's metering never moves later. ``state`` should
    hold the documents of every month the samples fall in and the month before each.
    """
    return _Applier(state, fleet=fleet, since=since, budget=budget).run(samples)


def _counted(sample: Sample, last: Last | None, *, since: datetime.datetime) -> tuple[str, int]:
    """The bucket and the requests a sample adds, given the pod's ``last`` (None: first sight).

    For ``status`` the requests the pod served that we know are not traffic are taken
    off: its probes, and our own requests (``own_requests`` a sample, this one included).
    """
    own = sample.probes + sample.own_requests if sample.source == STATUS else 0
    observed = month_of(sample.at)
    if last is None:
        # The counter counts from the container's start, which may be after the pod's.
        start = sample.started or sample.pod_started
        if start is None:
            bucket = observed
        elif start < since:
            bucket = UNKNOWN
        else:
            bucket = month_of(start)
        return bucket, max(0, sample.counter - own)
    if _restarted(sample, last):
        return observed, max(0, sample.counter - own)
    if last.source == STATUS and sample.source == PROMETHEUS:
        # ``auto`` sees the series appear: until now it was absent, that is 0.
        return observed, sample.counter
    if last.source == PROMETHEUS and sample.source == STATUS:
        # The series went away: nothing is known of the gap; count from here on.
        return observed, 0
    overhead = sample.probes - last.probes + sample.own_requests if sample.source == STATUS else 0
    return observed, max(0, sample.counter - last.counter - overhead)


def _restarted(sample: Sample, last: Last) -> bool:
    """A new nginx master: its counters count from 0 again."""
    if sample.restarts > last.restarts:
        return True
    if sample.started is not None and last.started is not None and sample.started != last.started:
        return True
    # Counters of different sources are not comparable (the status one is much larger).
    return sample.source == last.source and sample.counter < last.counter


class _Applier:
    """One `apply`: the documents by name, who holds which pod, and their sizes."""

    def __init__(
        self, state: Sequence[Document], *, fleet: str, since: datetime.datetime, budget: int
    ) -> None:
        if any(document.fleet != fleet for document in state):
            raise ValueError(f"documents of another fleet than {fleet} given")
        self.fleet = fleet
        self.since = min([_utc(since), *(document.since for document in state)])
        self.budget = budget
        self.documents = {document.name: document for document in state}
        # Each document's pods, copied when it first changes (the documents stay as given).
        self.pods = {document.name: document.pods for document in state}
        self.changed: set[str] = set()
        self.sizes: dict[str, int] = {}
        # uid -> the names of the documents holding it.
        self.holders: dict[str, list[str]] = {}
        for document in state:
            for uid in document.pods:
                self.holders.setdefault(uid, []).append(document.name)

    def run(self, samples: Iterable[Sample]) -> Changes:
        counted = applied = stale = 0
        # In time order, so that several samples of one pod in a batch make a sequence.
        for sample in sorted(samples, key=lambda sample: sample.at):
            added = self._apply(sample)
            if added is None:
                stale += 1
            else:
                counted += added
                applied += 1
        documents = tuple(
            self.documents[name].model_copy(update={"since": self.since, "pods": self.pods[name]})
            for name in sorted(self.changed)
        )
        return Changes(documents=documents, counted=counted, applied=applied, stale=stale)

    def _latest(self, uid: str) -> Pod | None:
        entries = [self.pods[name][uid] for name in self.holders.get(uid, [])]
        return max(entries, key=lambda entry: entry.last.at, default=None)

    def _apply(self, sample: Sample) -> int | None:
        previous = self._latest(sample.uid)
        if previous is not None and sample.at <= previous.last.at:
            return None
        bucket, added = _counted(sample, previous.last if previous else None, since=self.since)
        month = month_of(sample.at)
        name = next(
            (
                name
                for name in self.holders.get(sample.uid, [])
                if self.documents[name].month == month
            ),
            None,
        )
        old = self.pods[name][sample.uid] if name is not None else None
        buckets = dict(old.buckets) if old is not None else {}
        if added:
            buckets[bucket] = buckets.get(bucket, 0) + added
        # What the figures came from: a counter read that added nothing (a pod with no
        # routed traffic yet, read through nginx's total) makes nothing an estimate.
        contributed = {sample.source} if added else set()
        sources = sorted({*(old.sources if old is not None else ()), *contributed})
        entry = Pod(
            pod=sample.pod,
            namespace=sample.namespace,
            node_id=sample.node_id or (old.node_id if old is not None else None),
            buckets=buckets,
            estimated=(old is not None and old.estimated) or STATUS in contributed,
            sources=sources,
            samples=(old.samples if old is not None else 0) + 1,
            last=Last(
                counter=sample.counter,
                source=sample.source,
                restarts=sample.restarts,
                probes=sample.probes,
                at=sample.at,
                started=sample.started,
            ),
        )
        size = _entry_size(sample.uid, entry)
        if name is None:
            name = self._shard_with_room(month, size)
            self.holders.setdefault(sample.uid, []).append(name)
            self.sizes[name] = self._size(name) + size
        else:
            assert old is not None
            self.sizes[name] = self._size(name) + size - _entry_size(sample.uid, old)
        if name not in self.changed:
            self.pods[name] = dict(self.pods[name])
            self.changed.add(name)
        self.pods[name][sample.uid] = entry
        return added

    def _size(self, name: str) -> int:
        if name not in self.sizes:
            document = self.documents[name].model_copy(update={"pods": self.pods[name]})
            self.sizes[name] = len(document.dumps())
        return self.sizes[name]

    def _shard_with_room(self, month: str, size: int) -> str:
        """The month's last shard if ``size`` more bytes keep it under budget, else a new one.

        Earlier shards are not filled up again: a month's shards fill in order.
        """
        shards = [document.shard for document in self.documents.values() if document.month == month]
        if shards:
            name = document_name(fleet=self.fleet, month=month, shard=max(shards))
            if self._size(name) + size <= self.budget:
                return name
        document = Document(
            fleet=self.fleet,
            month=month,
            shard=max(shards) + 1 if shards else 0,
            since=self.since,
            pods={},
        )
        self.documents[document.name] = document
        self.pods[document.name] = {}
        return document.name


def _entry_size(uid: str, entry: Pod) -> int:
    """The bytes ``"uid":{...},`` takes in a document."""
    return len(_dumps({uid: entry.model_dump(mode="json")})) - 1


# --- usage and retention --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PodUsage:
    """One pod's metered requests over every document read (it may span several months)."""

    uid: str
    pod: str
    namespace: str
    node_id: str | None
    buckets: dict[str, int]
    estimated: bool
    sources: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Usage:
    """What a report needs from the ledger, within its window."""

    buckets: dict[str, int]
    """Requests per bucket over every pod, those that no longer exist included."""
    pods: tuple[PodUsage, ...]
    """Every pod metered, by namespace, name and UID."""
    since: datetime.datetime | None
    """When metering began; None when nothing was ever metered."""
    sources: tuple[str, ...]
    estimated: bool
    """Some of the figures came from ``status``: an upper bound."""

    @property
    def pods_metered(self) -> int:
        return len(self.pods)


def usage(documents: Iterable[Document], *, span: window.Window) -> Usage:
    """The ledger's figures for a report whose window is ``span`` (Kong's rule: ``UNKNOWN``
    always, a month from the window's first on)."""
    merged: dict[str, PodUsage] = {}
    latest: dict[str, datetime.datetime] = {}
    since: datetime.datetime | None = None
    for document in documents:
        since = document.since if since is None else min(since, document.since)
        for uid, entry in document.pods.items():
            known = merged.get(uid)
            buckets = dict(known.buckets) if known is not None else {}
            for bucket, requests in entry.buckets.items():
                if window.keeps_bucket(span, bucket):
                    buckets[bucket] = buckets.get(bucket, 0) + requests
            # Names as of the pod's latest sample; a node_id once known stays known.
            newer = known is None or entry.last.at > latest[uid]
            if known is None:
                pod, namespace, node_id = entry.pod, entry.namespace, entry.node_id
            elif newer:
                pod, namespace = entry.pod, entry.namespace
                node_id = entry.node_id or known.node_id
            else:
                pod, namespace = known.pod, known.namespace
                node_id = known.node_id or entry.node_id
            merged[uid] = PodUsage(
                uid=uid,
                pod=pod,
                namespace=namespace,
                node_id=node_id,
                buckets=buckets,
                estimated=entry.estimated or (known is not None and known.estimated),
                sources=tuple(sorted({*entry.sources, *(known.sources if known else ())})),
            )
            if newer:
                latest[uid] = entry.last.at
    totals: dict[str, int] = {}
    for metered in merged.values():
        for bucket, requests in metered.buckets.items():
            totals[bucket] = totals.get(bucket, 0) + requests
    pods = tuple(sorted(merged.values(), key=lambda pod: (pod.namespace, pod.pod, pod.uid)))
    return Usage(
        buckets=dict(sorted(totals.items(), key=lambda item: (item[0] == UNKNOWN, item[0]))),
        pods=pods,
        since=since,
        sources=tuple(sorted({source for pod in pods for source in pod.sources})),
        estimated=any(pod.estimated for pod in pods),
    )


def expired(
    month: str, *, retention_months: int = RETENTION_MONTHS, now: datetime.datetime
) -> bool:
    """Whether a document written in ``month`` is past retention: older than the current
    month and the ``retention_months - 1`` before it."""
    if retention_months < 1:
        raise ValueError(f"retention needs at least one month, got {retention_months}")
    return _month_index(month) <= _month_index(month_of(now)) - retention_months


def trim(
    documents: Iterable[Document],
    *,
    retention_months: int = RETENTION_MONTHS,
    now: datetime.datetime,
) -> list[str]:
    """The names of the documents past retention, to delete."""
    return sorted(
        document.name
        for document in documents
        if expired(document.month, retention_months=retention_months, now=now)
    )
