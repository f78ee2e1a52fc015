"""The rules that turn what nodes and the datastore said into one report.

Where the counters come from decides whether the figures are right:

* A datastore is configured: counters come from ``license_data`` only. Every
  DB-mode node's ``/license/report`` shows the same cluster-wide datastore
  figures, so adding them up would multiply the count by the number of nodes.
* No datastore, nodes in DB mode: the nodes' reports are all views of the same
  table. They are combined with a per-bucket maximum (the freshest view, since
  nodes flush every second), never a sum.
* DB-less Enterprise: each node keeps its own counters, so the fleet's figure
  is the per-bucket sum over the nodes that answered.
* Kong OSS keeps no license counters: the counters are empty, and a note says why.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Iterable, Sequence

from license_report.report import admin_api, hashing, models, window

UNLICENSED = "UNLICENSED"
DB_OFF = "off"
#: Kong's ``role`` of hybrid mode's nodes (any other node is "traditional").
HYBRID_ROLES = frozenset({"control_plane", "data_plane"})


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


@dataclasses.dataclass(frozen=True)
class Inputs:
    observations: Sequence[NodeObservation]
    failures: Sequence[models.Failure]
    window: window.Window
    hash_key: bytes
    generated_at: datetime.datetime
    datastore: models.DatastoreFigures | None = None
    # Counted through a node's Admin API lists when there is no datastore.
    listed_counts: models.EntityCounts | None = None
    license: models.LicenseFacts | None = None


class NoNodeReached(Exception):
    """Aggregation needs at least one node: without one, nothing says what runs."""


def _most_common(values: Iterable[str]) -> tuple[str, collections.Counter[str]]:
    counts = collections.Counter(values)
    # Most common first; a tie goes to the greatest value, so the choice is stable.
    best = max(counts, key=lambda value: (counts[value], value))
    return best, counts


def _in_window(bucket: str, span: window.Window) -> bool:
    month = window.parse_bucket(bucket)
    return month is None or month in span


def _sorted_counters(totals: dict[str, int]) -> list[models.Counter]:
    # YYYY-MM sorts chronologically as text; UNKNOWN (pre-2.7) goes last, as Kong puts it.
    order = sorted(totals, key=lambda bucket: (bucket == window.UNKNOWN_BUCKET, bucket))
    return [models.Counter(bucket=bucket, request_count=totals[bucket]) for bucket in order]


def _datastore_counters(figures: models.DatastoreFigures, span: window.Window) -> dict[str, int]:
    totals: dict[str, int] = collections.defaultdict(int)
    for usage in figures.usage:
        bucket = window.bucket_name(year=usage.year, month=usage.month)
        if _in_window(bucket, span):
            totals[bucket] += usage.requests
    return totals


def _node_counters(
    reports: Sequence[admin_api.NodeLicenseReport], span: window.Window, *, combine_max: bool
) -> dict[str, int]:
    totals: dict[str, int] = {}
    for report in reports:
        for counter in report.counters:
            if not _in_window(counter.bucket, span):
                continue
            known = totals.get(counter.bucket, 0)
            totals[counter.bucket] = (
                max(known, counter.request_count) if combine_max else known + counter.request_count
            )
    return totals


def _counters(
    inputs: Inputs, *, enterprise: bool, dbless: bool, notes: list[str]
) -> dict[str, int]:
    if inputs.datastore is not None:
        return _datastore_counters(inputs.datastore, inputs.window)
    reports = [obs.license_report for obs in inputs.observations if obs.license_report is not None]
    if not enterprise or not reports:
        notes.append(
            "Kong OSS (community edition) keeps no license counters: the counters are empty."
        )
        return {}
    if dbless:
        return _node_counters(reports, inputs.window, combine_max=False)
    notes.append(
        "No datastore configured: counters are the nodes' views of the shared license_data "
        "table, combined per month by maximum (not summed, which would multiply them)."
    )
    return _node_counters(reports, inputs.window, combine_max=True)


def _counts(inputs: Inputs, notes: list[str]) -> models.EntityCounts | None:
    if inputs.datastore is not None:
        if inputs.datastore.missing_tables:
            notes.append(
                "Datastore tables absent (counted as 0): "
                + ", ".join(sorted(inputs.datastore.missing_tables))
            )
        return inputs.datastore.counts
    return inputs.listed_counts


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
    return UNLICENSED if raw is None else hashing.keyed_hash(key=inputs.hash_key, value=raw)


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
        cores=None if unknown_cores else sum(host.cores or 0 for host in hosts.values()),
        # The fleet's identity: every distinct host, hashed together.
        hostname=hashing.keyed_hash(key=inputs.hash_key, value="\n".join(sorted(hosts))),
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


def _node_entries(inputs: Inputs) -> list[models.NodeEntry]:
    key = inputs.hash_key
    entries = [
        models.NodeEntry(
            pod=obs.target.name,
            reachable=True,
            node_id=obs.info.node_id,
            hostname=hashing.keyed_hash(key=key, value=obs.info.hostname),
            host=hashing.keyed_hash(key=key, value=obs.host),
            version=obs.info.version,
            edition=obs.info.edition,
            database=obs.info.configuration.database,
            cores=obs.target.host_cores
            or (
                obs.license_report.system_info.cores
                if obs.license_report and obs.license_report.system_info
                else None
            ),
            uname=obs.target.host_uname
            or (
                obs.license_report.system_info.uname
                if obs.license_report and obs.license_report.system_info
                else None
            ),
            total_requests=obs.status.server.total_requests,
            configuration_hash=obs.status.configuration_hash,
        )
        for obs in inputs.observations
    ]
    entries += [
        models.NodeEntry(
            pod=failure.pod, reachable=False, error=f"{failure.reason}: {failure.message}"
        )
        for failure in inputs.failures
    ]
    return sorted(entries, key=lambda entry: entry.pod)


def aggregate(inputs: Inputs) -> models.Collection:
    observations = inputs.observations
    if not observations:
        raise NoNodeReached(f"none of the {len(inputs.failures)} gateway nodes could be reached")
    notes: list[str] = []

    edition, _ = _most_common(obs.info.edition for obs in observations)
    enterprise = edition == "enterprise"
    dbless = inputs.datastore is None and all(obs.dbless for obs in observations)
    if inputs.datastore is not None and any(obs.dbless for obs in observations):
        notes.append("A datastore is configured but some nodes report database=off.")

    kong_version, _ = _most_common(obs.info.version for obs in observations)
    _version_skew(observations, kong_version, notes)
    if dbless:
        _configuration_drift(observations, notes)

    counters = _counters(inputs, enterprise=enterprise, dbless=dbless, notes=notes)
    counts = _counts(inputs, notes)
    if counts is None:
        notes.append("Configuration could not be counted; services and workspaces show 0.")

    if inputs.datastore is not None:
        db_version = inputs.datastore.db_version
    elif dbless:
        db_version = DB_OFF
    else:
        reported = [
            obs.license_report.db_version
            for obs in observations
            if obs.license_report is not None and obs.license_report.db_version
        ]
        db_version = _most_common(reported)[0] if reported else "postgres"

    deployment = _deployment(inputs, counts, dbless=dbless, notes=notes)
    report = models.KongReport(
        counters=_sorted_counters(counters),
        db_version=db_version,
        kong_version=kong_version,
        license_key=_license_key(inputs, notes),
        rbac_users=counts.rbac_users if counts else 0,
        services_count=counts.services if counts else 0,
        system_info=_system_info(inputs, notes),
        workspaces_count=counts.workspaces if counts else 0,
    )
    return models.Collection(
        report=report,
        nodes=_node_entries(inputs),
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
    )
