"""One collection: ask every gateway node and the datastore, then aggregate.

This is the whole engine behind both the operator and ``license-report
collect``. It knows nothing of Kubernetes: callers hand it node targets (the
operator from pods and Nodes, the CLI from flags).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
from collections.abc import Sequence

import aiohttp

from license_report.api import defaults, errors
from license_report.report import aggregation, models
from license_report.sources import datastore, entities, kong, license, portforward

# How many reached nodes to try, in turn, for counting configuration through
# the Admin API before giving up: one answering is enough.
_COUNTING_ATTEMPTS = 3


class CollectionFailed(errors.ReportError):
    """No report can be made; ``failures`` names every node that was not reached."""

    reason = errors.Reason.NO_POD_REACHABLE
    transient = True  # pods restarting, a rollout: the next attempt may reach them

    def __init__(self, message: str, *, failures: Sequence[models.Failure] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


@dataclasses.dataclass(frozen=True)
class Request:
    targets: Sequence[models.Target]
    hash_key: bytes = dataclasses.field(repr=False)
    admin_api: kong.ClientSettings = dataclasses.field(default_factory=kong.ClientSettings)
    database: datastore.DatastoreSettings | None = None
    license_text: str | None = dataclasses.field(default=None, repr=False)
    #: report.json's shape: "auto" (the fleet's own Kong's), "kong-2.7" or "kong-3.5".
    format: str = defaults.REPORT_FORMAT
    #: The kong-2.7 window; ``None``: Kong's own 24 months (kong-3.5 is always 12).
    months: int | None = None
    #: Keyed-hash pod and host names in nodes.json.
    hash_names: bool = defaults.HASH_NAMES
    now: datetime.datetime | None = None
    # Nodes known not to be askable (a pod not Ready, say): they are named in
    # the result like any node that failed to answer.
    known_failures: Sequence[models.Failure] = ()
    # Findings of the caller (e.g. Nodes not readable) to report with the others.
    notes: Sequence[str] = ()
    # Hybrid data plane pods: no Admin API to ask; named in nodes.json, not failures.
    data_planes: Sequence[models.DataPlanePod] = ()
    #: Why the pods' own datastore is not read (it could not be reached from here): one
    #: gateway's own /license/report then gives the counters and counts.
    datastore_unread: str | None = None
    #: A metered fleet: its ledger's figures (docs/metering.md).
    metered: aggregation.Metered | None = None


def _control_plane(obs: aggregation.NodeObservation) -> bool:
    return obs.info.configuration.role == "control_plane"


def _counting_order(
    observations: Sequence[aggregation.NodeObservation],
) -> list[aggregation.NodeObservation]:
    """Hybrid control planes first (they hold the configuration and know the data
    planes), then nodes serving the most common configuration, then by name."""
    popularity = collections.Counter(obs.status.configuration_hash for obs in observations)
    return sorted(
        observations,
        key=lambda obs: (
            not _control_plane(obs),
            -popularity[obs.status.configuration_hash],
            obs.target.name,
        ),
    )


async def _count_configuration(
    *,
    session: aiohttp.ClientSession,
    observations: Sequence[aggregation.NodeObservation],
    settings: kong.ClientSettings,
) -> models.EntityCounts:
    errors = []
    for obs in _counting_order(observations)[:_COUNTING_ATTEMPTS]:
        try:
            return await entities.count_entities(
                session=session,
                base_url=obs.target.url,
                settings=settings,
                data_planes=_control_plane(obs),
            )
        except kong.NodeError as error:
            errors.append(f"{obs.target.name}: {error.message}")
    raise CollectionFailed(
        "configuration could not be counted through the Admin API: " + "; ".join(errors)
    )


async def collect(request: Request) -> models.Collection:
    """Collect one report. Raises ``CollectionFailed``, ``datastore.DatastoreError``,
    ``license.LicenseError``, ``kong.ConfigError`` or ``portforward.PortForwardError`` (a
    403: the operator may not port-forward); node failures alone only degrade it."""
    if not request.targets:
        raise CollectionFailed("no gateway nodes to ask", failures=request.known_failures)
    facts = None if request.license_text is None else license.parse(request.license_text)
    kong.check_settings(settings=request.admin_api, targets=request.targets)
    now = request.now or datetime.datetime.now(datetime.UTC)
    # The format, and so the window, follows the fleet's version, known only once the
    # nodes have answered: the datastore is read for the widest window meanwhile.
    span = aggregation.widest_window(months=request.months, now=now)

    async with kong.new_session(request.admin_api) as session:
        try:
            async with asyncio.TaskGroup() as group:
                nodes = group.create_task(
                    kong.fetch_nodes(
                        session=session, targets=request.targets, settings=request.admin_api
                    )
                )
                figures = (
                    None
                    if request.database is None
                    else group.create_task(datastore.read(settings=request.database, window=span))
                )
        except* (
            datastore.DatastoreError,
            kong.ConfigError,
            portforward.PortForwardError,
        ) as group_error:
            raise group_error.exceptions[0] from None
        observations, failures = nodes.result()
        failures = [*request.known_failures, *failures]
        if not observations:
            raise CollectionFailed(
                f"none of the {len(failures)} gateway nodes could be reached", failures=failures
            )
        listed = (
            None
            if figures is not None
            else await _count_configuration(
                session=session, observations=observations, settings=request.admin_api
            )
        )

    result = aggregation.aggregate(
        aggregation.Inputs(
            observations=observations,
            failures=failures,
            hash_key=request.hash_key,
            generated_at=now,
            datastore=None if figures is None else figures.result(),
            datastore_unread=request.datastore_unread if request.database is None else None,
            listed_counts=listed,
            license=facts,
            format=request.format,
            months=request.months,
            hash_names=request.hash_names,
            data_planes=request.data_planes,
            metered=request.metered,
        )
    )
    if request.notes:
        result = result.model_copy(update={"notes": [*request.notes, *result.notes]})
    return result
