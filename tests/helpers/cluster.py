"""The real operator against the emulated API server: running it, and the objects tests make.

Simulated Kong nodes are registered as Pods whose IPs are their 127.0.0.x
addresses, on Nodes with known cores, so the operator reaches them exactly as
it would reach pods in a cluster.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import hashlib
import pathlib
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import kmock

from license_report.api import v1alpha1
from license_report.handlers import context as operator_context
from license_report.reconcile import kube, run
from license_report.sources import datastore
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from license_report_sandbox.sandbox import operating

CRD_FILE = (
    pathlib.Path(__file__).parents[2] / "crds" / "licensereportrequests.licensereport.io.yaml"
)
OPERATOR_NAMESPACE = "license-report"
KONG_LABELS = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "gw"}


@dataclasses.dataclass
class Operator:
    """The operator in its own thread and event loop, exactly as the sandbox runs it
    (see ``cli.sandbox.operating``: kopf must not share the emulator's loop)."""

    clients: kube.Clients
    settings: run.OperatorSettings
    clock: operator_context.Clock = dataclasses.field(default_factory=operator_context.SystemClock)
    thread: operating.OperatorThread | None = None

    async def start(self) -> None:
        context = operator_context.Context(
            clients=self.clients, settings=self.settings, clock=self.clock
        )
        self.thread = operating.OperatorThread(context=context)
        await self.thread.start(timeout=20)

    async def stop(self) -> None:
        """kopf's own graceful shutdown (see ``OperatorProcess`` to kill one mid-run)."""
        assert self.thread is not None
        await self.thread.stop()
        self.thread = None


def operator_clients(api: kubeapi.KubeAPI) -> kube.Clients:
    """The operator's own clients: its calls show in ``api.requests`` by their User-Agent."""
    return kube.Clients.from_api_client(api.client(), user_agent=kube.USER_AGENT)


def by_operator(request: kmock.Request) -> bool:
    """Sent by the operator's own client (kopf's requests say ``kopf/<version>``)."""
    agent = next((v for k, v in request.headers.items() if k.lower() == "user-agent"), "")
    return agent == kube.USER_AGENT


@dataclasses.dataclass(frozen=True)
class LoopTimeClock:
    """The operator's clock (`handlers.context.Clock`) on the running loop's time, maybe
    looptime's fake one: ``loop_clock`` is the one the simulated fleet and the emulator
    share, so all of them agree on the hour."""

    loop_clock: sim.LoopClock

    @classmethod
    def starting(cls, start: datetime.datetime) -> LoopTimeClock:
        return cls(sim.LoopClock(start=start))

    def now(self) -> datetime.datetime:
        return self.loop_clock.now()

    def loop_seconds(self, seconds: float) -> float:
        return seconds


@dataclasses.dataclass
class FastClock:
    """Wall-clock time running ``speed`` times faster than real time, from ``start``: an
    operator in real time then keeps an hourly schedule in seconds."""

    speed: float
    start: datetime.datetime = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )
    origin: float = dataclasses.field(default_factory=time.monotonic)

    def now(self) -> datetime.datetime:
        elapsed = (time.monotonic() - self.origin) * self.speed
        return self.start + datetime.timedelta(seconds=elapsed)

    def loop_seconds(self, seconds: float) -> float:
        return seconds / self.speed


@dataclasses.dataclass
class OperatorProcess:
    """``license-report run`` in a child process, which a test can SIGKILL like a crashed pod."""

    kubeconfig: pathlib.Path
    process: asyncio.subprocess.Process | None = None
    #: Where the child serves Prometheus metrics: a free port of its own at each start,
    #: never the default one (children and concurrent test runs would collide there).
    metrics_port: int | None = None

    @property
    def metrics_url(self) -> str:
        assert self.metrics_port is not None, "not started"
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    async def start(self) -> None:
        port = _free_port()
        self.metrics_port = _free_port()
        command = [
            str(pathlib.Path(sys.executable).with_name("license-report")), "run",
            "--kubeconfig", str(self.kubeconfig), "--standalone",
            "--operator-namespace", OPERATOR_NAMESPACE, "--retry-seconds", "5",
            "--liveness", f"http://127.0.0.1:{port}/healthz", "--log-level", "WARNING",
            "--metrics-address", f"127.0.0.1:{self.metrics_port}",
        ]  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(*command)

        async def alive() -> bool:
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"the operator exited with {self.process.returncode}")
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{port}/healthz") as response,
                ):
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(alive, timeout=30, what="the operator's liveness endpoint")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), timeout=10)
        self.process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def deploy(
    api: kubeapi.KubeAPI,
    running: sim.Fleet,
    *,
    namespace: str = "kong",
    labels: Mapping[str, str] = KONG_LABELS,
    machines: Sequence[tuple[str, int]] = (("node-a", 8), ("node-b", 4)),
) -> None:
    """Register each simulated Kong node as a Pod (IP = its address) spread over Nodes."""
    for name, cores in machines:
        api.put(kubeapi.make_node(name, cpu=cores))
    for index, node in enumerate(running.nodes):
        machine = machines[index % len(machines)][0]
        ports = [("admin", running.port), ("status", 8100), ("proxy", 8000)]
        api.put(
            kubeapi.make_pod(
                node.name, namespace, labels=labels, ip=node.address, node_name=machine, ports=ports
            )
        )


def gateway_nodes(count: int = 2, *, latency: float = 0.0) -> list[sim.SimNode]:
    """``gw-0``... DB-less Enterprise nodes that proxied 10 requests each this month, answering
    after ``latency`` seconds. As in Kong (the ``off`` strategy), their reports carry no
    ``counters``: the 10 requests are in each node's ``proxied`` only."""
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    return [
        sim.SimNode(
            name=f"gw-{i}",
            mode=sim.Mode.EE_DBLESS,
            counters={month: 10},
            fault=sim.Fault(latency=latency),
        )
        for i in range(count)
    ]


def db_gateway_nodes(count: int = 2, *, latency: float = 0.0) -> list[sim.SimNode]:
    """``gw-0``... Enterprise nodes on one datastore, each of which flushed 10 requests this
    month into it: every node's report shows the table, ``10 * count``, as Kong's do."""
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    shared = sim.Datastore()
    return [
        sim.SimNode(
            name=f"gw-{i}",
            mode=sim.Mode.EE_DB,
            datastore=shared,
            counters={month: 10},
            fault=sim.Fault(latency=latency),
        )
        for i in range(count)
    ]


def gateway_spec(**extra: Any) -> dict[str, Any]:
    """A ``spec`` selecting the pods ``deploy`` registers, on their ``admin`` port; ``extra``
    adds the other fields."""
    return {
        "gateway": {
            "selector": {"matchLabels": dict(KONG_LABELS)},
            "adminApi": {"portName": "admin"},
        },
        **extra,
    }


def datastore_spec(host: str, port: int, database: str) -> dict[str, Any]:
    """``spec.datastore`` for a test PostgreSQL, its password in Secret ``kong-pg``."""
    return {
        "postgres": {
            "host": host,
            "port": port,
            "database": database,
            "passwordSecretRef": {"name": "kong-pg", "key": "password"},
            "sslMode": "disable",
        }
    }


def secret(name: str, data: Mapping[str, str], *, namespace: str = "kong") -> dict[str, Any]:
    """A Secret body with ``data`` base64-encoded, as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def kong_pg(api: kubeapi.KubeAPI, settings: datastore.DatastoreSettings) -> dict[str, Any]:
    """Put the password of ``settings`` in Secret ``kong-pg``; return the ``spec.datastore``
    that reads that database with it."""
    api.put(secret("kong-pg", {"password": settings.password or ""}))
    return datastore_spec(settings.host, settings.port, settings.database)


def request(
    name: str,
    *,
    namespace: str = "kong",
    spec: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": f"{v1alpha1.GROUP}/{v1alpha1.VERSION}",
        "kind": v1alpha1.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec or gateway_spec()),
    }
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    return body


async def create(clients: kube.Clients, body: Mapping[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = await kube.call(
        clients.custom.create_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        body["metadata"]["namespace"],
        v1alpha1.PLURAL,
        dict(body),
    )
    return created


async def get(clients: kube.Clients, name: str, namespace: str = "kong") -> dict[str, Any]:
    found: dict[str, Any] = await kube.call(
        clients.custom.get_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        namespace,
        v1alpha1.PLURAL,
        name,
    )
    return found


async def patch(
    clients: kube.Clients, name: str, body: Mapping[str, Any], namespace: str = "kong"
) -> None:
    await kube.call(
        clients.custom.patch_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        namespace,
        v1alpha1.PLURAL,
        name,
        dict(body),
    )


async def delete(clients: kube.Clients, name: str, namespace: str = "kong") -> None:
    await kube.call(
        clients.custom.delete_namespaced_custom_object,
        v1alpha1.GROUP,
        v1alpha1.VERSION,
        namespace,
        v1alpha1.PLURAL,
        name,
    )


async def wait_for(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, what: str = "condition"
) -> Any:
    """Poll until ``check`` returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


async def wait_phase(
    clients: kube.Clients,
    name: str,
    phases: set[str],
    *,
    namespace: str = "kong",
    generation: int | None = None,
    rerun: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """The request once in one of ``phases``, having observed ``generation`` and the
    ``licensereport.io/rerun`` value ``rerun`` when they are given."""

    async def check() -> dict[str, Any] | None:
        obj = await get(clients, name, namespace)
        status = obj.get("status") or {}
        if (
            status.get("phase") in phases
            and (generation is None or status.get("observedGeneration") == generation)
            and (rerun is None or status.get("observedRerun") == rerun)
        ):
            return obj
        return None

    found: dict[str, Any] = await wait_for(
        check, timeout=timeout, what=f"{namespace}/{name} in {phases}"
    )
    return found


async def report_config_maps(clients: kube.Clients, namespace: str = "kong") -> list[Any]:
    listing = await kube.call(
        clients.core.list_namespaced_config_map,
        namespace,
        label_selector="licensereport.io/request",
    )
    return list(listing.items)


async def consistent_report(
    clients: kube.Clients, name: str, *, run: str, namespace: str = "kong"
) -> tuple[dict[str, Any], Any]:
    """The request and its one report ConfigMap, after checking that they agree.

    Exactly one report ConfigMap; it is the one the status names, written by
    ``run`` (``"<generation>/<rerun>"``), and the status' ``reportSha256`` is
    both the ConfigMap's annotation and the hash of its ``report.json``.
    """
    config_maps = await report_config_maps(clients, namespace)
    assert len(config_maps) == 1, [cm.metadata.name for cm in config_maps]
    (config_map,) = config_maps
    obj = await get(clients, name, namespace)
    status = obj["status"]
    annotations = config_map.metadata.annotations
    assert annotations["licensereport.io/run"] == run
    assert status["reportConfigMap"] == config_map.metadata.name
    report_sha256 = hashlib.sha256(config_map.data["report.json"].encode()).hexdigest()
    assert status["reportSha256"] == annotations["licensereport.io/report-sha256"]
    assert status["reportSha256"] == report_sha256
    return obj, config_map
