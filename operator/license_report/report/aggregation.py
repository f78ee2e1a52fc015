"""The rules that turn what nodes and the datastore said into one report.

The report is the one the fleet's own Kong would write (docs/kong-fidelity.md
cites Kong's source for each rule). Where the counters come from decides
whether the figures are right:

* A PostgreSQL datastore is read: counters come from ``license_data`` only.
  Every DB-mode node's ``/license/report`` shows the same cluster-wide
  figures, so adding them up would multiply the count by the number of nodes.
  Hybrid control planes write their data planes' counts there too.
* No datastore read: the nodes that keep counters show views of the same
  table; they are combined with a per-bucket maximum (the freshest view),
  never a sum.
* A Cassandra datastore (Kong Enterprise 2.7-3.3) is not read directly: one
  node's own report gives the datastore's figures.
* Nodes whose ``/license/report`` has no ``counters`` (DB-less: Kong's
  strategy is ``off``; hybrid without telemetry) and Kong OSS keep none.
  They are reached, not failed; nodes.json says why. When no node keeps any
  and no datastore holds them, report.json has no ``counters`` at all, as
  Kong's own report has none.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Iterable, Sequence

from license_report.report import admin_api, hashing, ledger, models, versions, window

UNLICENSED = "UNLICENSED"
DB_OFF = "off"
#: Kong 2.7-3.4's DB-less ``db_version``: ``"off" .. " " .. tostring(nil)``.
DB_OFF_NIL = "off nil"
CASSANDRA = "cassandra"
#: Kong's ``role`` of hybrid mode's nodes (any other node is "traditional").
HYBRID_ROLES = frozenset({"control_plane", "data_plane"})
#: Kong's explicit "no telemetry" value of ``cluster_telemetry_endpoint``.
TELEMETRY_NONE = "NONE"

KEPT, NONE = "kept", "none"
#: nodes.json: a metered pod that no longer runs; its months come from the ledger.
METERED = models.METERED_GONE
GONE_NOTE = "no longer running: its requests were metered by the operator"
DBLESS_NOTE = "DB-less: Kong's counter strategy is off"
DATA_PLANE_NOTE = "data plane without telemetry"
#: A data plane with telemetry: its counts are in license_data, written by its control plane.
DATA_PLANE_TELEMETRY_NOTE = "data plane: its counts go to the control plane (telemetry)"
OSS_NOTE = "Kong OSS"
#: Kong 2.7-3.4 show 24 months (``MONTHS_TO_REPORT = 23`` plus the current one).
KONG_2_7_MONTHS = 24
#: Kong 3.5 and later show 12 (``MONTHS_TO_REPORT = 11``).
KONG_3_5_MONTHS = 12
KONG_2_7, KONG_3_5, AUTO = "kong-2.7", "kong-3.5", "auto"


@dataclasses.dataclass(frozen=True)
class NodeObservation:
    """What one reached node said."""

    target: models.Target
    info: admin_api.NodeInfo
    status: admin_api.NodeStatus
    license_report: admin_api.NodeLicenseReport | None  # None: 404, i.e. Kong OSS

    @property
    def host(self) -> str:
        return self.target.host or self.info.hostname

    @property
    def dbless(self) -> bool:
        return self.info.configuration.database == DB_OFF

    @property
    def cassandra(self) -> bool:
        return self.info.configuration.database == CASSANDRA

    @property
    def enterprise(self) -> bool:
        """A 200 from /license/report, or what ``GET /`` says (edition from 3.6, a license
        object, 2.x's version suffix). Never ``edition``'s absence: Kong before 3.6 has none."""
        return self.license_report is not None or self.info.says_enterprise

    @property
    def keeps_counters(self) -> bool:
        return self.license_report is not None and self.license_report.counters is not None

    @property
    def counters_note(self) -> str | None:
        """Why this node keeps no counters; ``None`` when it keeps them."""
        if self.keeps_counters:
            return None
        configuration = self.info.configuration
        if self.license_report is None:
            return OSS_NOTE
        if configuration.role == "data_plane":
            return DATA_PLANE_NOTE
        if self.dbless:
            return DBLESS_NOTE
        if configuration.cluster_telemetry_endpoint == TELEMETRY_NONE:
            return "cluster_telemetry_endpoint is NONE: Kong's counter strategy is off"
        return "its /license/report has no counters"


@dataclasses.dataclass(frozen=True)
class Metered:
    """A metered fleet's figures from the ledger (docs/metering.md), in the widest window a
    report may need: aggregation keeps what the report's own window keeps."""

    usage: ledger.Usage
    interval_seconds: int
    #: The ledger ConfigMaps' label value (licensereport.io/ledger).
    ledger: str


METERING_METHOD = (
    "Kong keeps no license counters for these gateways (DB-less, data planes without "
    "telemetry, or Kong OSS). The operator read each pod's request counter on its status "
    "listener every interval and on termination, and kept the per-month deltas in a ledger "
    "that outlives the pods: prometheus is the Prometheus plugin's per-route counter "
    "(proxied requests, exact for routed traffic); status is nginx's total_requests less "
    "the kubelet's probes and the operator's own samples (an upper bound). See "
    "docs/metering.md."
)


@dataclasses.dataclass(frozen=True)
class Inputs:
    observations: Sequence[NodeObservation]
    failures: Sequence[models.Failure]
    hash_key: bytes
    generated_at: datetime.datetime
    datastore: models.DatastoreFigures | None = None
    # Counted through a node's Admin API lists when there is no datastore.
    listed_counts: models.EntityCounts | None = None
    license: models.LicenseFacts | None = None
    #: report.json's shape: "auto" (the fleet's own Kong's), "kong-2.7" or "kong-3.5".
    format: str = AUTO
    #: The kong-2.7 window in months; ``None``: Kong's 24. Kong-3.5 is always 12.
    months: int | None = None
    #: Keyed-hash pod and host names in nodes.json (the status names pods in clear).
    hash_names: bool = True
    #: Hybrid data plane pods: no Admin API, not asked, not failures.
    data_planes: Sequence[models.DataPlanePod] = ()
    #: Why a PostgreSQL datastore the pods name was not read (it could not be reached from
    #: here): one node's own /license/report then stands for it, as for Cassandra.
    datastore_unread: str | None = None
    #: The fleet is metered (spec.metering): the ledger's figures.
    metered: Metered | None = None


class NoNodeReached(Exception):
    """Aggregation needs at least one node: without one, nothing says what runs."""


def _most_common(values: Iterable[str]) -> tuple[str, collections.Counter[str]]:
    counts = collections.Counter(values)
    # Most common first; a tie goes to the greatest value, so the choice is stable.
    best = max(counts, key=lambda value: (counts[value], value))
    return best, counts


def _sorted_counters(totals: dict[str, int]) -> list[models.Counter]:
    # YYYY-MM sorts chronologically as text; UNKNOWN (pre-2.7) goes last, as Kong puts it.
    order = sorted(totals, key=lambda bucket: (bucket == window.UNKNOWN_BUCKET, bucket))
    return [models.Counter(bucket=bucket, request_count=totals[bucket]) for bucket in order]


def _datastore_counters(figures: models.DatastoreFigures, span: window.Window) -> dict[str, int]:
    totals: dict[str, int] = collections.defaultdict(int)
    for usage in figures.usage:
        if span.keeps(year=usage.year, month=usage.month):
            totals[window.bucket_name(year=usage.year, month=usage.month)] += usage.requests
    return totals


def _node_counters(
    reports: Sequence[admin_api.NodeLicenseReport], span: window.Window
) -> dict[str, int]:
    """Per bucket, the largest count any node shows: they all read the same table."""
    totals: dict[str, int] = {}
    for report in reports:
        for counter in report.counters or []:
            if window.keeps_bucket(span, counter.bucket):
                totals[counter.bucket] = max(totals.get(counter.bucket, 0), counter.request_count)
    return totals


def _not_counting(observations: Sequence[NodeObservation]) -> str:
    """The nodes that keep no counters, by why (pods named, for the status)."""
    why: dict[str, list[str]] = collections.defaultdict(list)
    for obs in observations:
        note = obs.counters_note
        if note is not None:
            why[note].append(obs.target.name)
    return "; ".join(f"{note}: {_named(sorted(pods))}" for note, pods in sorted(why.items()))


def _cassandra_report(inputs: Inputs) -> NodeObservation | None:
    """The node whose own report stands for a datastore not read here (Cassandra, or a
    PostgreSQL out of reach): the first by name with a report, counters kept where any
    node keeps them (every DB-mode node's shows the same tables)."""
    if inputs.datastore is not None:
        return None
    reporting = [
        obs
        for obs in inputs.observations
        if obs.license_report
        and (obs.cassandra or (inputs.datastore_unread is not None and not obs.dbless))
    ]
    if not reporting:
        return None
    fallback = inputs.datastore_unread is not None
    return min(reporting, key=lambda obs: (fallback and not obs.keeps_counters, obs.target.name))


def _counters(
    inputs: Inputs, span: window.Window, *, notes: list[str]
) -> tuple[dict[str, int] | None, bool]:
    """The fleet's buckets (``None`` when nothing holds counters: the key is then absent),
    and whether they are the ledger's (a metered fleet)."""
    observations = inputs.observations
    keepers = [obs for obs in observations if obs.keeps_counters]
    missing = _not_counting(observations)
    silent = sorted(plane.pod for plane in inputs.data_planes if not plane.telemetry)
    if silent:
        dark = f"{DATA_PLANE_NOTE}: {_named(silent)}"
        missing = f"{missing}; {dark}" if missing else dark
    cassandra = _cassandra_report(inputs)
    if cassandra is not None:
        assert cassandra.license_report is not None
        notes.append(
            f"Cassandra datastore (not read directly): the counters and counts are "
            f"{cassandra.target.name}'s own /license/report."
            if inputs.datastore_unread is None
            else f"The datastore could not be read ({inputs.datastore_unread}): the "
            f"counters and counts are {cassandra.target.name}'s own /license/report, "
            "which reads the same tables."
        )
        reports = [cassandra.license_report] if cassandra.keeps_counters else []
        return (_node_counters(reports, span) if reports else None), False
    if inputs.datastore is not None and "license_data" not in inputs.datastore.missing_tables:
        if missing:
            notes.append(
                "Counters are the datastore's (license_data); these nodes keep none and "
                f"their own requests are not counted: {missing}."
            )
        kept = _datastore_counters(inputs.datastore, span)
        return _cross_checked(kept, inputs, span, notes), False
    if not keepers and inputs.metered is not None:
        notes.append(_metered_note(inputs.metered, missing))
        return _metered_counters(inputs.metered, span), True
    if not keepers:
        notes.append(
            f"No node keeps license counters ({missing}): report.json has no counters, as "
            "Kong's own report has none."
        )
        return None, False
    if missing:
        notes.append(f"These nodes keep no counters and are not counted: {missing}.")
    notes.append(
        "No datastore read: counters are the nodes' views of the shared license_data "
        "table, combined per month by maximum (not summed, which would multiply them)."
    )
    kept = _node_counters([obs.license_report for obs in keepers if obs.license_report], span)
    return _cross_checked(kept, inputs, span, notes), False


def _metered_counters(metered: Metered, span: window.Window) -> dict[str, int]:
    return {
        bucket: requests
        for bucket, requests in metered.usage.buckets.items()
        if window.keeps_bucket(span, bucket)
    }


def _metered_note(metered: Metered, missing: str) -> str:
    usage = metered.usage
    since = usage.since.strftime("%Y-%m-%d %H:%M UTC") if usage.since else "now"
    bound = (
        " Parts read from nginx's total (source status) are an upper bound."
        if usage.estimated
        else ""
    )
    return (
        f"No node keeps license counters ({missing}): the counters are metered by the "
        f"operator since {since} (sources: {', '.join(usage.sources) or 'none yet'}, every "
        f"{metered.interval_seconds} s, {usage.pods_metered} pods), see metering.json; what "
        f"the pods served before metering began is under UNKNOWN.{bound}"
    )


def _cross_checked(
    kept: dict[str, int], inputs: Inputs, span: window.Window, notes: list[str]
) -> dict[str, int]:
    """Kong's counters, as they are; metered too (spec.metering.enabled): a note compares."""
    if inputs.metered is None:
        return kept
    metered = _metered_counters(inputs.metered, span)
    compared = [
        f"{bucket} Kong {kept.get(bucket, 0)}, metered {metered.get(bucket, 0)}"
        for bucket in sorted(set(kept) | set(metered))
        if bucket != window.UNKNOWN_BUCKET and metered.get(bucket) is not None
    ]
    notes.append(
        "Cross-check (spec.metering.enabled): the counters are Kong's; metered by the operator: "
        + ("; ".join(compared) if compared else "nothing in this window yet")
        + "."
    )
    return kept


def _reported_counts(
    obs: NodeObservation, listed: models.EntityCounts | None
) -> models.EntityCounts:
    """A Cassandra fleet's counts: what the node's report says, the rest as listed."""
    report = obs.license_report
    assert report is not None
    base = listed or models.EntityCounts(
        services=0, routes=0, consumers=0, workspaces=1, rbac_users=0
    )
    return base.model_copy(
        update={
            "services": report.services_count if report.services_count is not None else 0,
            "rbac_users": report.rbac_users if report.rbac_users is not None else 0,
            "workspaces": report.workspaces_count or base.workspaces,
            "consumers": report.consumers_count
            if report.consumers_count is not None
            else base.consumers,
            "routes": report.routes_count if report.routes_count is not None else base.routes,
        }
    )


def _counts(
    inputs: Inputs, release: versions.Release, notes: list[str]
) -> models.EntityCounts | None:
    figures = inputs.datastore
    if figures is None:
        cassandra = _cassandra_report(inputs)
        if cassandra is not None:
            return _reported_counts(cassandra, inputs.listed_counts)
        if inputs.listed_counts is not None and any(o.enterprise for o in inputs.observations):
            notes.append(
                "Counted through the Admin API (no datastore read): /rbac/users hides the "
                "RBAC users of admins and developers, so rbac_users leaves them out where "
                "Kong's own report counts them."
            )
        return inputs.listed_counts
    absent = [t for t in figures.missing_tables if t != "workspace_entity_counters"]
    if absent:
        notes.append("Datastore tables absent (counted as 0): " + ", ".join(sorted(absent)))
    if release.at_least(versions.COUNT_ROWS):
        return figures.counts
    if figures.counters is None:
        notes.append(
            "Datastore has no workspace_entity_counters (Kong OSS): entities are counted "
            "by row, consumers of type 0 only."
        )
        return figures.counts
    # Kong 2.7-3.8 report the maintained counters, all workspaces summed.
    counters = figures.counters
    return figures.counts.model_copy(
        update={
            "services": counters.services,
            "routes": counters.routes,
            "consumers": counters.consumers,
            "rbac_users": counters.rbac_users,
        }
    )


def _licensed_reports(inputs: Inputs) -> list[admin_api.NodeLicenseReport]:
    """The nodes' own reports that name a license key (not Kong's UNLICENSED)."""
    return [
        obs.license_report
        for obs in inputs.observations
        if obs.license_report is not None
        and obs.license_report.license_key not in (None, "", UNLICENSED)
    ]


def _license_expiration(inputs: Inputs) -> str | None:
    """The license's expiration date: the supplied license's, else the one Kong 3.5+
    nodes give beside the key the report names (the most common key, as for the key)."""
    if inputs.license is not None:
        expires = inputs.license.expiration_date
        return None if expires is None else expires.isoformat()
    reports = _licensed_reports(inputs)
    if not reports:
        return None
    key, _ = _most_common(report.license_key or "" for report in reports)
    dates = [r.license_expiration_date for r in reports if r.license_key == key]
    said = [date for date in dates if date]
    return _most_common(said)[0] if said else None


def _deployment(
    inputs: Inputs, counts: models.EntityCounts | None, *, dbless: bool, notes: list[str]
) -> models.DeploymentInfo:
    """Kong 3.5's ``deployment_info``: hybrid when any node is a control or data plane,
    else dbless or traditional, as the mode says (Kong decides the same from its role and
    database, for one node)."""
    if any(obs.info.configuration.role in HYBRID_ROLES for obs in inputs.observations):
        planes = counts.data_planes if counts is not None else None
        if planes is None:
            notes.append(
                "Hybrid mode, but no control plane nor datastore was asked: the connected "
                "data planes are not counted (deployment_info has no connected_dp_count)."
            )
        return models.DeploymentInfo(type="hybrid", connected_dp_count=planes)
    return models.DeploymentInfo(type="dbless" if dbless else "traditional")


def _license_key(inputs: Inputs, notes: list[str]) -> str:
    """The license payload's ``license_key`` as is, as Kong writes it; UNLICENSED without."""
    reported = [report.license_key for report in _licensed_reports(inputs)]
    raw: str | None
    if inputs.license is not None:
        raw = inputs.license.license_key
        if reported and any(key != raw for key in reported):
            notes.append("Some nodes run with a different license than the one supplied.")
    elif reported:
        raw, _ = _most_common(key for key in reported if key is not None)
    else:
        raw = None
    return UNLICENSED if raw is None else raw


@dataclasses.dataclass(frozen=True)
class _Host:
    cores: int | None
    uname: str | None


def _hosts(observations: Sequence[NodeObservation]) -> dict[str, _Host]:
    """One entry per distinct machine: nodes sharing a machine share its cores."""
    hosts: dict[str, _Host] = {}
    for obs in observations:
        own = obs.license_report.system_info if obs.license_report else None
        cores = obs.target.host_cores or (own.cores if own else None)
        uname = obs.target.host_uname or (own.uname if own else None)
        known = hosts.get(obs.host)
        hosts[obs.host] = _Host(
            cores=cores if known is None else known.cores or cores,
            uname=uname if known is None else known.uname or uname,
        )
    return hosts


def _system_info(inputs: Inputs, notes: list[str]) -> models.SystemInfo:
    hosts = _hosts(inputs.observations)
    unknown_cores = sorted(name for name, host in hosts.items() if host.cores is None)
    if unknown_cores:
        notes.append(
            f"Cores unknown for {len(unknown_cores)} of {len(hosts)} hosts: "
            "system_info.cores is null rather than a partial sum."
        )
    unames = sorted({host.uname for host in hosts.values() if host.uname})
    if any(host.uname is None for host in hosts.values()):
        notes.append("Operating system and architecture unknown for some hosts.")
    return models.SystemInfo(
        # Summed over the fleet's distinct machines, where one Kong node gives its own:
        # a deliberate difference (docs/kong-fidelity.md).
        cores=None if unknown_cores else sum(host.cores or 0 for host in hosts.values()),
        uname=", ".join(unames) if unames else None,
    )


#: A note names this many pods at most: notes go into the request's status, which
#: must stay small whatever the fleet (nodes.json has every pod).
NAMED_IN_A_NOTE = 20


def _named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMED_IN_A_NOTE])
    more = len(names) - NAMED_IN_A_NOTE
    return f"{shown} and {more} more" if more > 0 else shown


def _version_skew(observations: Sequence[NodeObservation], chosen: str, notes: list[str]) -> None:
    others = sorted(
        f"{obs.target.name} ({obs.info.version})"
        for obs in observations
        if obs.info.version != chosen
    )
    if others:
        notes.append(f"Version skew: most nodes run {chosen}; others: {_named(others)}.")


def _configuration_drift(observations: Sequence[NodeObservation], notes: list[str]) -> None:
    hashes = [
        obs.status.configuration_hash
        for obs in observations
        if obs.dbless and obs.status.configuration_hash
    ]
    if not hashes:
        return
    common, counts = _most_common(hashes)
    if len(counts) > 1:
        drifted = sorted(
            obs.target.name
            for obs in observations
            if obs.dbless and obs.status.configuration_hash not in (None, common)
        )
        notes.append(
            f"Configuration drift: {_named(drifted)} serve a configuration other than the "
            f"{counts[common]} nodes with configuration_hash {common}."
        )


def _node_entries(inputs: Inputs, span: window.Window) -> list[models.NodeEntry]:
    def name(value: str) -> str:
        return hashing.keyed_hash(key=inputs.hash_key, value=value) if inputs.hash_names else value

    metered = _metered_pods(inputs, span)

    def own(obs: NodeObservation) -> admin_api.ReportSystemInfo | None:
        return obs.license_report.system_info if obs.license_report else None

    entries = []
    for obs in inputs.observations:
        system = own(obs)
        entries.append(
            models.NodeEntry(
                pod=name(obs.target.name),
                reachable=True,
                node_id=obs.info.node_id,
                hostname=name(obs.info.hostname),
                host=name(obs.host),
                version=obs.info.version,
                edition="enterprise" if obs.enterprise else "community",
                database=obs.info.configuration.database,
                cores=obs.target.host_cores or (system.cores if system else None),
                uname=obs.target.host_uname or (system.uname if system else None),
                total_requests=obs.status.server.total_requests,
                configuration_hash=obs.status.configuration_hash,
                counters=KEPT if obs.keeps_counters else NONE,
                counters_note=obs.counters_note,
                metered=metered.pop(obs.target.name, None),
            )
        )
    entries += [
        models.NodeEntry(
            pod=name(failure.pod), reachable=False, error=f"{failure.reason}: {failure.message}"
        )
        for failure in inputs.failures
    ]
    entries += [
        models.NodeEntry(
            pod=name(plane.pod),
            reachable=False,
            counters=NONE,
            counters_note=DATA_PLANE_TELEMETRY_NOTE if plane.telemetry else DATA_PLANE_NOTE,
        )
        for plane in inputs.data_planes
    ]
    # Metered pods no longer running (replaced, scaled down): their months still count.
    entries += [
        models.NodeEntry(
            pod=name(pod),
            reachable=False,
            counters=METERED,
            counters_note=GONE_NOTE,
            metered=buckets,
        )
        for pod, buckets in metered.items()
    ]
    return sorted(entries, key=lambda entry: entry.pod)


def _metered_pods(inputs: Inputs, span: window.Window) -> dict[str, dict[str, int]]:
    """Each metered pod's buckets in ``span``, by its name as the targets give it
    (``<namespace>/<pod>`` when the fleet spans several namespaces)."""
    if inputs.metered is None:
        return {}
    asked = {obs.target.name for obs in inputs.observations}
    asked |= {failure.pod for failure in inputs.failures}
    qualified = any("/" in pod for pod in asked)
    found: dict[str, dict[str, int]] = {}
    for pod in inputs.metered.usage.pods:
        named = f"{pod.namespace}/{pod.pod}" if qualified else pod.pod
        buckets = {b: n for b, n in pod.buckets.items() if window.keeps_bucket(span, b)}
        if named in found:  # a pod name reused by a later pod (a StatefulSet's): both count
            for bucket, requests in buckets.items():
                found[named][bucket] = found[named].get(bucket, 0) + requests
        else:
            found[named] = buckets
    return found


def _metering_info(
    inputs: Inputs, span: window.Window, *, from_ledger: bool
) -> models.MeteringInfo:
    assert inputs.metered is not None
    usage = inputs.metered.usage
    return models.MeteringInfo(
        counters="ledger" if from_ledger else "kong",
        metered_since=usage.since,
        sources=list(usage.sources),
        interval_seconds=inputs.metered.interval_seconds,
        pods_metered=usage.pods_metered,
        upper_bound=usage.estimated,
        months=_metered_counters(inputs.metered, span),
        ledger=inputs.metered.ledger,
        method=METERING_METHOD,
    )


def report_format(requested: str, release: versions.Release) -> str:
    """``auto``: the shape the fleet's own Kong writes (kong-3.5 from 3.5, else kong-2.7)."""
    if requested != AUTO:
        return requested
    return KONG_3_5 if release.at_least(versions.SHAPE_3_5) else KONG_2_7


def report_window(
    *, format: str, months: int | None, now: datetime.datetime, notes: list[str]
) -> window.Window:
    """The window the format's Kong reports: 12 months for kong-3.5 (``months`` ignored,
    with a note), ``months`` or Kong's 24 for kong-2.7."""
    if format == KONG_3_5:
        if months is not None and months != KONG_3_5_MONTHS:
            notes.append(
                f"report.months ({months}) is ignored: format kong-3.5 reports "
                f"{KONG_3_5_MONTHS} months, as Kong 3.5 does."
            )
        return window.Window.ending(now=now, months=KONG_3_5_MONTHS)
    return window.Window.ending(now=now, months=months or KONG_2_7_MONTHS)


def widest_window(*, months: int | None, now: datetime.datetime) -> window.Window:
    """A window holding every window ``report_window`` may choose: read before the
    fleet's version (and so the format) is known."""
    return window.Window.ending(now=now, months=max(months or 0, KONG_2_7_MONTHS))


def _db_version(inputs: Inputs, release: versions.Release, *, dbless: bool) -> str:
    observations = inputs.observations
    if inputs.datastore is not None:
        return inputs.datastore.db_version
    if dbless:
        # 3.5+ write "off" alone; before, "off" .. " " .. tostring(nil).
        return DB_OFF if release.at_least(versions.SHAPE_3_5) else DB_OFF_NIL
    reported = [
        obs.license_report.db_version
        for obs in observations
        if obs.license_report is not None and obs.license_report.db_version
    ]
    return _most_common(reported)[0] if reported else "postgres"


def aggregate(inputs: Inputs) -> models.Collection:
    observations = inputs.observations
    if not observations:
        raise NoNodeReached(f"none of the {len(inputs.failures)} gateway nodes could be reached")
    notes: list[str] = []

    edition, _ = _most_common(
        "enterprise" if obs.enterprise else "community" for obs in observations
    )
    dbless = inputs.datastore is None and all(obs.dbless for obs in observations)
    if inputs.datastore is not None and any(obs.dbless for obs in observations):
        notes.append("A datastore is configured but some nodes report database=off.")

    kong_version, _ = _most_common(obs.info.version for obs in observations)
    release = versions.parse(kong_version)
    _version_skew(observations, kong_version, notes)
    if dbless:
        _configuration_drift(observations, notes)

    shape = report_format(inputs.format, release)
    span = report_window(format=shape, months=inputs.months, now=inputs.generated_at, notes=notes)
    counters, from_ledger = _counters(inputs, span, notes=notes)
    counts = _counts(inputs, release, notes)
    if counts is None:
        notes.append("Configuration could not be counted; services and workspaces show 0.")

    deployment = _deployment(inputs, counts, dbless=dbless, notes=notes)
    report = models.KongReport(
        counters=None if counters is None else _sorted_counters(counters),
        consumers_count=(counts.consumers if counts else 0)
        if release.at_least(versions.CONSUMERS_COUNT)
        else None,
        db_version=_db_version(inputs, release, dbless=dbless),
        kong_version=kong_version,
        license_key=_license_key(inputs, notes),
        rbac_users=counts.rbac_users if counts else 0,
        services_count=counts.services if counts else 0,
        system_info=_system_info(inputs, notes),
        workspaces_count=counts.workspaces if counts else 0,
    )
    return models.Collection(
        report=report,
        nodes=_node_entries(inputs, span),
        failures=sorted(inputs.failures, key=lambda failure: failure.pod),
        notes=notes,
        outcome=models.Outcome.DEGRADED if inputs.failures else models.Outcome.COMPLETE,
        mode="dbless" if dbless else "db",
        edition=edition,
        routes_count=counts.routes if counts else None,
        consumers_count=counts.consumers if counts else None,
        generated_at=inputs.generated_at,
        plugins=counts.plugins if counts else None,
        deployment=deployment,
        license_expiration_date=_license_expiration(inputs),
        format=shape,
        metering=None
        if inputs.metered is None
        else _metering_info(inputs, span, from_ledger=from_ledger),
    )
