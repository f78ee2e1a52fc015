"""A metered fleet with the operator's metering daemon, on a looptime loop.

The emulated API server (its timestamps on the loop's clock), the Kong chart's
DB-less pods served by simulated Kong nodes with traffic and probes
(`license_report_sandbox.metering`), a LicenseReportRequest on them, and
``handlers.metering.serve`` running as kopf's daemon would run it, with the
same clock. Tests compare what the ledger (and a report) says with the
simulator's truth: the proxied requests each pod really served, per month.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import errno
import random
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import yaml

from license_report.api import v1alpha1
from license_report.handlers import context as operator_context
from license_report.handlers import metering as metering_daemon
from license_report.reconcile import discovery, kube, run
from license_report.reconcile import ledger as ledger_store
from license_report.report import ledger, window
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from license_report_sandbox import metering as sim_metering
from license_report_sandbox.kong import status_api
from tests.helpers.cluster import CRD_FILE, OPERATOR_NAMESPACE, LoopTimeClock, create, request

SELECTOR = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "kong"}
NAMESPACE = "kong"
#: Addresses a fleet may take from its first: its pods and those a rolling update adds.
ADDRESSES = 16


def first_address() -> str:
    """A loopback block of its own for the fleet's status listeners, whose port is fixed
    (8100, as the chart renders it): another test run on this machine (a second worktree's
    suite) binds 127.0.0.2:8100 too. A random 127.x.y.0/24 whose first addresses are free."""
    for _attempt in range(20):
        base = f"127.{random.randrange(64, 250)}.{random.randrange(256)}"
        addresses = [f"{base}.{2 + n}" for n in range(ADDRESSES)]
        if all(_free(address, status_api.PORT) for address in addresses):
            return addresses[0]
    raise RuntimeError("no free loopback block for a metered fleet's status listeners")


def _free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


@dataclasses.dataclass
class Metered:
    api: kubeapi.KubeAPI
    clients: kube.Clients
    fleet: sim_metering.MeteredFleet
    clock: LoopTimeClock
    context: operator_context.Context
    spec: v1alpha1.Spec
    task: asyncio.Task[None] | None = None

    @property
    def fleet_key(self) -> str:
        return ledger.fleet_key(
            namespaces=discovery.namespaces(self.spec.gateway, default=NAMESPACE),
            selector=self.spec.gateway.selector,
        )

    def start(self) -> None:
        """The daemon, as kopf starts it for a metered request (again after a stop)."""
        self.task = asyncio.create_task(
            metering_daemon.serve(self.context, namespace=NAMESPACE, name="metered")
        )

    async def stop(self) -> None:
        """The operator killed: its daemon cancelled wherever it was."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None

    async def usage(self) -> ledger.Usage:
        stored = await ledger_store.read(
            clients=self.clients,
            namespace=NAMESPACE,
            fleet_key=self.fleet_key,
            months=ledger.months_back(now=self.clock.now(), count=ledger.RETENTION_MONTHS),
        )
        # Every month metered: a window far wider than any report's.
        span = window.Window.ending(now=self.clock.now(), months=600)
        return ledger.usage([one.document for one in stored], span=span)

    async def report(self) -> run.RunOutcome:
        """A report run now, as the request handler runs it (it reads the ledger)."""
        obj = await self._request()
        return await run.run(
            clients=self.clients,
            settings=self.context.settings,
            namespace=NAMESPACE,
            name="metered",
            uid=obj["metadata"]["uid"],
            run_id="test",
            spec=self.spec,
            now=self.clock.now(),
        )

    async def _request(self) -> dict[str, Any]:
        obj: dict[str, Any] = await kube.call(
            self.clients.custom.get_namespaced_custom_object,
            v1alpha1.GROUP,
            v1alpha1.VERSION,
            NAMESPACE,
            v1alpha1.PLURAL,
            "metered",
        )
        return obj

    async def status(self) -> dict[str, Any]:
        obj = await self._request()
        status: dict[str, Any] = obj.get("status") or {}
        return status


@contextlib.asynccontextmanager
async def metered(
    *,
    start: datetime.datetime,
    pods: int = 3,
    rate: float = 5.0,
    prometheus: str | None = "status_code_metrics",
    metering: dict[str, Any] | None = None,
    tick: float = 10.0,
    admin_rate: float = 0.0,
    unrouted_rate: float = 0.0,
    emulator_hook: Callable[[kubeapi.KubeAPI], None] | None = None,
    spec: dict[str, Any] | None = None,
) -> AsyncIterator[Metered]:
    """``spec``: more of the request's spec (``report``, say) beside its gateway and
    metering."""
    loop_clock = sim.LoopClock(start=start)
    emulator = sim_metering.emulator(loop_clock)
    async with kubeapi.serve(emulator=emulator) as api:
        api.register_crd(yaml.safe_load(CRD_FILE.read_text()))
        for namespace in (OPERATOR_NAMESPACE, NAMESPACE):
            api.put(kubeapi.make_namespace(namespace))
        if emulator_hook is not None:
            emulator_hook(api)
        clients = kube.Clients.from_api_client(api.client(), user_agent=kube.USER_AGENT)
        async with sim_metering.metered_fleet(
            api,
            clock=loop_clock,
            pods=pods,
            rate=rate,
            prometheus=prometheus,
            tick=tick,
            admin_rate=admin_rate,
            unrouted_rate=unrouted_rate,
            first_address=first_address(),
        ) as fleet:
            body = {
                **(spec or {}),
                # The simulated nodes' Admin API is plain HTTP (the chart's is 8444 with ssl).
                "gateway": {"selector": {"matchLabels": SELECTOR}, "adminApi": {"scheme": "http"}},
                "metering": {"intervalSeconds": 60, **(metering or {})},
            }
            await create(clients, request("metered", spec=body))
            clock = LoopTimeClock(loop_clock)
            context = operator_context.Context(
                clients=clients,
                settings=run.OperatorSettings(namespace=OPERATOR_NAMESPACE),
                clock=clock,
            )
            running = Metered(
                api=api,
                clients=clients,
                fleet=fleet,
                clock=clock,
                context=context,
                spec=v1alpha1.Spec.model_validate(body),
            )
            running.start()
            try:
                yield running
            finally:
                if running.task is not None:
                    await running.stop()
    await _settle()


async def _settle() -> None:
    """A few loop iterations for the servers' connection tasks that their shutdown just
    cancelled (on a looptime loop the shutdown's grace passes at once): the suite's check
    for tasks left behind yields only once."""
    for _ in range(5):
        await asyncio.sleep(0)
