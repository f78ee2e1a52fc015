"""The operator against a hostile control plane: killed at every step of a run, an API
server refusing writes for a while, watch streams cut. Whatever happens: one report
per generation, and a status whose checksum is the ConfigMap's.

Faults are kmock reactions on the emulator (they win over the emulation): a
criterion picks the operator's requests (its client's User-Agent), a payload
refuses them, holds them unanswered, or passes them on to the emulation.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import NoReturn

import kmock
import pytest

from license_report.api import v1alpha1
from license_report.reconcile import kube, run
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    Operator,
    OperatorProcess,
    by_operator,
    consistent_report,
    create,
    db_gateway_nodes,
    deploy,
    gateway_nodes,
    get,
    operator_clients,
    patch,
    report_config_maps,
    request,
    wait_for,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
TERMINAL = {"Succeeded", "Degraded", "Failed"}


# --- what a request is -------------------------------------------------------------------


def _method(request: kmock.Request) -> str:
    return str(request.method.value).upper()


def _phase(request: kmock.Request) -> str | None:
    """The phase a status patch sets, if it sets one."""
    data = request.data
    status = data.get("status") if isinstance(data, Mapping) else None
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else None


def _write(request: kmock.Request) -> str:
    """A write, named for assertions: ``PATCH licensereportrequests/status Running``."""
    plural = request.resource.plural if request.resource is not None else request.url.path
    what = f"{_method(request)} {plural}"
    if request.subresource:
        what += f"/{request.subresource}"
    phase = _phase(request) if request.subresource == "status" else None
    return f"{what} {phase}" if phase else what


def _is(request: kmock.Request, method: str, plural: str, subresource: str | None = None) -> bool:
    return (
        _method(request) == method
        and request.resource is not None
        and request.resource.plural == plural
        and request.subresource == subresource
    )


def _final_status(request: kmock.Request) -> bool:
    return (
        by_operator(request)
        and _is(request, "PATCH", v1alpha1.PLURAL, "status")
        and _phase(request) in TERMINAL
    )


def _refusal(status: int) -> kmock.KubernetesError:
    """What a real API server answers when it cannot take a write."""
    reason, message = {
        409: (
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; "
            "please apply your changes to the latest version and try again",
        ),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    }.get(status, ("InternalError", "Internal error occurred: etcdserver: leader changed"))
    # Details given, or kmock would fill them with its traceback.
    details = {"causes": [{"reason": reason, "message": message}]}
    return kmock.KubernetesError(status=status, reason=reason, message=message, details=details)


async def _never_answer() -> NoReturn:
    """Hold a request: its handler ends only when the client's connection does."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")  # pragma: no cover


# --- killed at every step ----------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        # Collecting: the nodes are slow, the operator is killed while it waits for them.
        "running",
        # The ConfigMap is stored, but its answer never reaches the operator.
        "config-map-written-unanswered",
        # The ConfigMap is written and answered; the final status patch never is.
        "final-status-unanswered",
        # The final status patch is refused (503): killed before it got through.
        "final-status-refused",
    ],
)
async def test_killed_at_each_step_of_a_run_and_restarted_makes_exactly_one_report(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator_process: OperatorProcess,
    fleet: FleetFactory,
    step: str,
) -> None:
    armed = True
    caught = asyncio.Event()

    def writes_config_map(request: kmock.Request) -> bool:
        return armed and by_operator(request) and _is(request, "POST", "configmaps")

    def finishes(request: kmock.Request) -> bool:
        return armed and _final_status(request)

    async def store_without_answer(request: kmock.Request) -> NoReturn:
        api.put(request.data)
        caught.set()
        await _never_answer()

    async def hold(request: kmock.Request) -> NoReturn:
        caught.set()
        await _never_answer()

    def refuse(request: kmock.Request) -> NoReturn:
        caught.set()
        raise _refusal(503)

    match step:
        case "config-map-written-unanswered":
            api.emulator[writes_config_map] << store_without_answer
        case "final-status-unanswered":
            api.emulator[finishes] << hold
        case "final-status-refused":
            api.emulator[finishes] << refuse

    async with fleet(db_gateway_nodes(latency=1.5 if step == "running" else 0.0)) as running:
        deploy(api, running)
        await operator_process.start()
        await create(clients, request("crash"))
        if step == "running":
            await wait_phase(clients, "crash", {"Running"})
        else:
            await asyncio.wait_for(caught.wait(), timeout=30)
        await operator_process.kill()
        armed = False

        # Where the kill landed: mid-run, with the report not yet written or written whole.
        assert (await get(clients, "crash"))["status"]["phase"] == "Running"
        written = await report_config_maps(clients)
        assert len(written) == (0 if step == "running" else 1)

        await operator_process.start()
        done = await wait_phase(clients, "crash", {"Succeeded"}, generation=1)
        # Killed and restarted once more after the run ended: the run is not redone.
        await operator_process.kill()
        await operator_process.start()
        await asyncio.sleep(2.0)
        await operator_process.kill()

    final, config_map = await consistent_report(clients, "crash", run="1/")
    assert final["status"]["phase"] == "Succeeded"
    assert final["status"]["observedGeneration"] == 1
    assert final["status"]["completedAt"] == done["status"]["completedAt"]
    assert json.loads(config_map.data["report.json"])["counters"] == [
        {"bucket": MONTH, "request_count": 20}
    ]


# --- an API server refusing writes -------------------------------------------------------


@dataclasses.dataclass
class _FlakyWrites:
    """Refuses the operator's writes: each kind of write the first time, or, with
    ``seconds``, every write for that long after the first refusal. Other requests get
    the emulation's answer."""

    api: kubeapi.KubeAPI
    status: int
    methods: frozenset[str]
    seconds: float | None = None
    refused: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    _until: float | None = None

    def install(self) -> None:
        self.api.emulator[self.matches] << self.answer

    def matches(self, request: kmock.Request) -> bool:
        return by_operator(request) and _method(request) in self.methods

    async def answer(self, request: kmock.Request) -> kmock.Payload:
        write = _write(request)
        if self.seconds is not None:
            now = asyncio.get_running_loop().time()
            if self._until is None:
                self._until = now + self.seconds
            refuse = now < self._until
        else:
            refuse = write not in self.refused
        if not refuse:
            return await self.api.emulator.answer(request)
        self.refused[write] += 1
        raise _refusal(self.status)


async def test_an_api_server_refusing_every_write_for_two_seconds_is_ridden_out(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    flaky = _FlakyWrites(api, 500, frozenset({"POST", "PUT", "PATCH", "DELETE"}), seconds=2.0)
    flaky.install()
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        await create(clients, request("outage"))
        done = await wait_phase(clients, "outage", {"Succeeded"}, generation=1, timeout=20)
    assert flaky.refused["PATCH licensereportrequests/status Running"] >= 2, flaky.refused
    await consistent_report(clients, "outage", run="1/")
    assert done["status"]["observedGeneration"] == 1


@pytest.mark.parametrize(
    ("status", "methods", "expected"),
    [
        # A first run: every write fails once with 500, each retried.
        (
            500,
            {"POST", "PUT", "PATCH"},
            {
                "PATCH licensereportrequests/status Running",
                "PATCH licensereportrequests/status Pending",
                "PATCH licensereportrequests/status Succeeded",
                "POST secrets",
                "POST configmaps",
                "PUT configmaps",
                # Events are posted with the operator's own client (handlers.lifecycle): one
                # refused is logged and lost, never a reason to redo a run.
                "POST events",
                # The meter daemon's status.metering (a DB-less fleet is metered): the next
                # round writes it again.
                "PATCH licensereportrequests/status",
            },
        ),
        # A rerun (the ConfigMap exists, so it is replaced): every update fails once with
        # 409 Conflict, as when another writer got there first.
        (
            409,
            {"PUT", "PATCH"},
            {
                "PATCH licensereportrequests/status Running",
                "PATCH licensereportrequests/status Pending",
                "PATCH licensereportrequests/status Succeeded",
                "PUT configmaps",
            },
        ),
    ],
    ids=["500", "409"],
)
async def test_every_write_of_a_run_refused_once_still_makes_one_consistent_report(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    settings: run.OperatorSettings,
    fleet: FleetFactory,
    status: int,
    methods: set[str],
    expected: set[str],
) -> None:
    # Six refusals and their backoffs take about the 3 s the other tests retry for.
    operator = Operator(
        clients=operator_clients(api), settings=dataclasses.replace(settings, retry_seconds=30)
    )
    flaky = _FlakyWrites(api, status, frozenset(methods))
    nodes = gateway_nodes()
    async with fleet(nodes) as running:
        deploy(api, running)
        await operator.start()
        try:
            if status == 409:  # a rerun: the first run goes through untouched
                await create(clients, request("flaky"))
                await wait_phase(clients, "flaky", {"Succeeded"}, generation=1)
                flaky.install()  # the operator is idle now: its next write is the rerun's
                await patch(clients, "flaky", {"spec": {"report": {"months": 6}}})
                generation = 2
            else:
                flaky.install()
                await create(clients, request("flaky"))
                generation = 1
            done = await wait_phase(clients, "flaky", TERMINAL, generation=generation, timeout=20)
        finally:
            await operator.stop()
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert set(flaky.refused) == expected, flaky.refused
    await consistent_report(clients, "flaky", run=f"{generation}/")


# --- watch streams cut -------------------------------------------------------------------


def _request_watches(api: kubeapi.KubeAPI) -> int:
    """How many watches of LicenseReportRequests have been opened so far."""
    return sum(
        1
        for r in api.requests
        if r.method == "GET" and r.path.endswith(f"/{v1alpha1.PLURAL}") and "watch=true" in r.query
    )


async def _rewatched(api: kubeapi.KubeAPI, since: int) -> None:
    async def opened() -> bool:
        return _request_watches(api) > since

    await wait_for(opened, timeout=15, what="the operator watching its requests again")


async def test_watch_streams_cut_again_and_again_lose_no_change_and_repeat_no_run(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = gateway_nodes(latency=0.5)  # a run takes three rounds of it: longer than a reconnection
    cut_in: list[str] = []  # the request's phase at each cut
    stop = asyncio.Event()

    async def cut_again_and_again() -> None:
        reset = False
        while not stop.is_set():
            if api.cut_watches(reset=reset):
                found = api.get(f"{v1alpha1.GROUP}/{v1alpha1.VERSION}", v1alpha1.KIND, "w", "kong")
                cut_in.append(((found or {}).get("status") or {}).get("phase", "-"))
                reset = not reset  # ended cleanly and dropped, in turn
            await asyncio.sleep(0.2)

    def reports_asked() -> list[int]:
        return [node.requests_seen.count("/license/report") for node in nodes]

    async with fleet(nodes) as running:
        deploy(api, running)
        cutter = asyncio.create_task(cut_again_and_again())
        try:
            await create(clients, request("w"))
            await wait_phase(clients, "w", {"Succeeded"}, generation=1)
        finally:
            stop.set()
            await cutter
        assert "Running" in cut_in, cut_in  # the run went on through cut streams
        assert reports_asked() == [1, 1]

        # Once the operator watches its requests again, its watch is cut and the spec
        # changed at once: the operator's next watch starts from the last version it
        # saw, so the change is replayed to it.
        watches = _request_watches(api)
        api.cut_watches(reset=True)
        await _rewatched(api, since=watches)
        watches = _request_watches(api)
        assert api.cut_watches(reset=True) >= 1
        await patch(clients, "w", {"spec": {"report": {"months": 6}}})
        await wait_phase(clients, "w", {"Succeeded"}, generation=2, timeout=20)
        await _rewatched(api, since=watches)
        assert reports_asked() == [2, 2]

        # Cut once more after the run: the new watch replays nothing that starts a run.
        watches = _request_watches(api)
        assert api.cut_watches(reset=True) >= 1
        await _rewatched(api, since=watches)
        await asyncio.sleep(1.0)
        assert reports_asked() == [2, 2]
    await consistent_report(clients, "w", run="2/")
