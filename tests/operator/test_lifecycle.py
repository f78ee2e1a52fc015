"""The request handler and the schedule's daemon take a run through one lifecycle.

The same request, once without and once with a schedule (a rerun annotation
asks the schedule for a run now), ends the same way in each of the
lifecycle's three outcomes: Finished (Succeeded), Retry (Pending with the
reason, then on) and Failed; with the same conditions and the same Events,
posted by the operator's own client.
"""

from __future__ import annotations

from typing import Any

import pytest

from license_report.api import v1alpha1
from license_report.reconcile import events, kube
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    Operator,
    create,
    deploy,
    gateway_nodes,
    gateway_spec,
    get,
    request,
    secret,
    wait_for,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

RERUN = {v1alpha1.RERUN_ANNOTATION: "now"}


def _spec(schedule: str | None, **extra: Any) -> dict[str, Any]:
    return gateway_spec(**extra) if schedule is None else gateway_spec(schedule=schedule, **extra)


async def _events(clients: kube.Clients, name: str) -> list[tuple[str, str, str]]:
    listing = await kube.call(clients.core.list_namespaced_event, "kong")
    return sorted(
        (e.reason, e.type, e.source.component)
        for e in listing.items
        if e.involved_object.name == name
    )


async def _two_events(clients: kube.Clients, name: str) -> list[tuple[str, str, str]]:
    """The run's Events once both are there (started, and how it ended)."""

    async def both() -> list[tuple[str, str, str]] | None:
        found = await _events(clients, name)
        return found if len(found) == 2 else None

    found: list[tuple[str, str, str]] = await wait_for(both, what=f"two Events of {name}")
    return found


def _reasons(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


@pytest.mark.parametrize("schedule", [None, "@yearly"], ids=["request", "schedule"])
async def test_finished_retry_and_failed_end_alike_from_either_handler(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    schedule: str | None,
) -> None:
    async with fleet(gateway_nodes(2)) as running:
        deploy(api, running)

        # Finished: Succeeded, a report, Normal Events.
        await create(clients, request("ok", spec=_spec(schedule), annotations=RERUN))
        ok = await wait_phase(clients, "ok", {"Succeeded"})
        assert _reasons(ok) == {
            "Complete": ("True", "ReportWritten"),
            "Degraded": ("False", "AllPodsReached"),
            "Failed": ("False", "NoError"),
        }
        assert ok["status"]["observedRerun"] == "now"

        assert await _two_events(clients, "ok") == [
            ("ReportStarted", "Normal", events.COMPONENT),
            ("ReportSucceeded", "Normal", events.COMPONENT),
        ]

        # Retry: a Secret not there yet is shown at once (Pending), and retried ...
        spec = _spec(schedule, license={"secretRef": {"name": "kong-license"}})
        await create(clients, request("bad", spec=spec, annotations=RERUN))
        pending = await wait_phase(clients, "bad", {"Pending"})
        assert _reasons(pending)["Failed"] == ("False", "SecretNotFound")
        # ... Failed: what it finds then cannot pass; the run ends at once, with a Warning.
        api.put(secret("kong-license", {"license": "not a license"}))
        failed = await wait_phase(clients, "bad", {"Failed"})
    assert _reasons(failed)["Failed"] == ("True", "InvalidLicense")
    assert failed["status"]["observedRerun"] == "now"
    assert "reportConfigMap" not in failed["status"]

    assert await _two_events(clients, "bad") == [
        ("ReportFailed", "Warning", events.COMPONENT),
        ("ReportStarted", "Normal", events.COMPONENT),
    ]
    # Ended is ended: neither handler runs it again.
    assert (await get(clients, "bad"))["status"]["phase"] == "Failed"
