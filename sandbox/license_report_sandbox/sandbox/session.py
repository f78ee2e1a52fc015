"""One sandbox run: start every part, run the sample request, stop every part, Ctrl-C included.

The parts start in a task of their own while their stops are kept on one
stack by the run itself, so a Ctrl-C (or SIGTERM) cancels the starting and
the waiting but never the stopping: operator first (it still talks to the
others), then the gateways, the API server and PostgreSQL. A second Ctrl-C
while stopping is ignored, as a half-stopped PostgreSQL would outlive us.
PostgreSQL starts in a thread (``pg_ctl`` blocks); a thread cannot be
interrupted, so a cancelled start waits for it to end and then stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import functools
import logging
import pathlib
import signal
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import trustme

from license_report.api import v1alpha1
from license_report.cli import collect, collecting, loop
from license_report.cli import run as run_command
from license_report.handlers import context as operator_context
from license_report.reconcile import kube, run
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, postgres, tools
from license_report_sandbox import metering as sim_metering
from license_report_sandbox.sandbox import (
    cluster,
    database,
    metered,
    operating,
    options,
    preflight,
    reporting,
    terminal,
)

_T = TypeVar("_T")


class StartError(Exception):
    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class _OnlyOurNotices(logging.Filter):
    """Drop kopf's notice that it ignores OS signals off the main thread: the sandbox handles
    them itself, so the notice would only alarm the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("OS signals are ignored")


def configure_logging(*, level: str) -> None:
    run_command.configure_logging(level=level, fmt="plain")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_OnlyOurNotices())


class Signals:
    """SIGINT and SIGTERM cancel the current target task, once."""

    def __init__(self, console: terminal.Console) -> None:
        self.received: signal.Signals | None = None
        self.target: asyncio.Task[Any] | None = None
        self._console = console
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(signum)

    def _on_signal(self, signum: signal.Signals) -> None:
        if self.received is not None:
            self._console.say(f"{signum.name}: already stopping, please wait")
            return
        self.received = signum
        self._console.say(f"{signum.name}: stopping the sandbox ...")
        if self.target is not None:
            self.target.cancel()


async def _in_thread(function: Callable[[], _T]) -> _T:
    """Run blocking ``function`` in a thread; when cancelled, wait for it to end first."""
    future = asyncio.get_running_loop().run_in_executor(None, function)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await _settled(future)
        raise


async def _settled(future: asyncio.Future[Any]) -> None:
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()  # retrieved: whoever wanted the result is gone


def _port_taken(error: OSError, *, option: str, where: str) -> StartError:
    if error.errno == errno.EADDRINUSE:
        return StartError(f"{option}: {where} is already in use", code=collect.EXIT_USAGE)
    return StartError(f"{option}: cannot listen on {where}: {error}", code=1)


def _kong_certificate(ca: trustme.CA, *, trust_clients: bool) -> ssl.SSLContext:
    """The Admin API's certificate. From a CA no one is given, as each Kong pod makes a
    self-signed one for its TLS listeners when none is given (a port-forward accepts it,
    the channel being the API server's); or, ``trust_clients``, the Kong Gateway
    Operator's CA, which also signs the client certificates its data planes accept."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    if trust_clients:
        ca.configure_trust(context)
    return context


def _kubectl() -> str:
    try:
        return str(tools.kubectl_path())
    except tools.ToolMissing:
        return "kubectl"


async def _start_postgres(
    chosen: options.Options,
    *,
    workdir: pathlib.Path,
    parts: contextlib.AsyncExitStack,
) -> asyncio.Task[database.Seeded]:
    pg = postgres.PostgresServer(base_dir=workdir / "postgres", port=chosen.postgres_port)
    parts.callback(pg.stop)  # also stops a half-started server
    today = datetime.datetime.now(datetime.UTC).date()
    seeding = asyncio.create_task(
        _in_thread(functools.partial(database.start_and_seed, pg=pg, pods=chosen.pods, today=today))
    )
    parts.push_async_callback(_settled, seeding)
    return seeding


async def _start_api(
    chosen: options.Options,
    *,
    workdir: pathlib.Path,
    parts: contextlib.AsyncExitStack,
    console: terminal.Console,
) -> kubeapi.KubeAPI:
    """The emulated API server with its kubeconfig, the CRD, namespaces and machines."""
    console.say("starting the emulated Kubernetes API (HTTPS) ...")
    (workdir / "kube").mkdir()
    try:
        api = await parts.enter_async_context(
            kubeapi.serve(host=preflight.LOCALHOST, port=chosen.api_port, workdir=workdir / "kube")
        )
    except OSError as error:
        where = f"{preflight.LOCALHOST}:{chosen.api_port}"
        raise _port_taken(error, option="--api-port", where=where) from None
    kubeconfig = api.kubeconfig(workdir / "kubeconfig", namespace=cluster.NAMESPACE)
    cluster.prepare(api)
    console.say(f"Kubernetes API at {api.url}, kubeconfig {kubeconfig}")
    return api


async def _start_operator(
    chosen: options.Options,
    *,
    api: kubeapi.KubeAPI,
    parts: contextlib.AsyncExitStack,
    console: terminal.Console,
) -> None:
    """``license-report run`` in its own thread, stopped first when the parts stop."""
    console.say("starting the operator (license-report run) ...")
    settings = run.OperatorSettings(
        namespace=cluster.OPERATOR_NAMESPACE,
        retry_seconds=chosen.retry_seconds,
        backoff_seconds=1.0,
        backoff_max_seconds=5.0,
    )
    # Built in a thread: the first Context takes about a second (the clients' first use),
    # which on this loop would stall the API server and the gateways (and the metered
    # topology's traffic) meanwhile.
    context = await asyncio.to_thread(
        lambda: operator_context.Context(
            clients=kube.Clients.from_api_client(api.client()), settings=settings
        )
    )
    operator = operating.OperatorThread(context=context)
    parts.push_async_callback(operator.stop)
    try:
        await operator.start()
    except operating.OperatorError as error:
        raise StartError(str(error), code=1) from None


async def _metered(
    chosen: options.Options,
    *,
    plan: preflight.Plan,
    workdir: pathlib.Path,
    parts: contextlib.AsyncExitStack,
    console: terminal.Console,
) -> int:
    """``--topology metered``: no datastore (the fleet keeps no counts); the fleet and its
    traffic, the operator, then the request (`metered.run`)."""
    api = await _start_api(chosen, workdir=workdir, parts=parts, console=console)
    clock = sim.LoopClock(start=datetime.datetime.now(datetime.UTC))
    try:
        fleet = await parts.enter_async_context(
            sim_metering.metered_fleet(
                api,
                clock=clock,
                pods=chosen.pods,
                rate=metered.RATE,
                tick=metered.TRAFFIC_TICK,
                mode=cluster.sim_mode(chosen),
                version=chosen.version,
                # The Prometheus plugin with status code metrics: exact figures (source auto
                # picks it); without it the status source's upper bound.
                prometheus="status_code_metrics",
                namespace=cluster.NAMESPACE,
                first_address=plan.addresses[0],
                admin_port=chosen.admin_port,
                ssl_context=_kong_certificate(trustme.CA(), trust_clients=False),
            )
        )
    except OSError as error:
        where = f"{plan.addresses[0]}..{plan.addresses[-1]} port {chosen.admin_port} or 8100"
        raise _port_taken(error, option="--admin-port", where=where) from None
    first, last = fleet.fleet.nodes[0].address, fleet.fleet.nodes[-1].address
    console.say(
        f"--topology metered: {chosen.pods} simulated Kong {chosen.version} gateway pods as the"
        f" Kong chart's defaults render them (DB-less: Kong keeps no license counters), each"
        f" proxying {metered.RATE} requests a second from now on; Kong's status listener"
        f" (KONG_STATUS_LISTEN 0.0.0.0:8100) answers on each pod IP ({first}..{last}), the"
        " Admin API through the API server's port-forward"
    )
    # The fleet serves while the operator starts: what it serves before the first sample is
    # what a report puts under UNKNOWN (served before metering began).
    await _start_operator(chosen, api=api, parts=parts, console=console)
    clients = kube.Clients.from_api_client(api.client())
    return await metered.run(chosen, clients=clients, fleet=fleet, console=console)


async def _report(
    chosen: options.Options,
    *,
    plan: preflight.Plan,
    workdir: pathlib.Path,
    parts: contextlib.AsyncExitStack,
    console: terminal.Console,
) -> int:
    console.say(f"temporary files in {workdir} (removed on exit)")
    if chosen.deployment is options.Topology.METERED:
        return await _metered(chosen, plan=plan, workdir=workdir, parts=parts, console=console)
    console.say(
        f"starting PostgreSQL with Kong's tables and {database.SEEDED_MONTHS} months of usage ..."
    )
    seeding = await _start_postgres(chosen, workdir=workdir, parts=parts)

    api = await _start_api(chosen, workdir=workdir, parts=parts, console=console)

    try:
        seeded = await seeding
    except postgres.PortInUseError as error:
        raise StartError(f"--postgres-port: {error}", code=collect.EXIT_USAGE) from None
    except postgres.PostgresServerError as error:
        raise StartError(f"PostgreSQL did not start: {error}", code=1) from None
    console.say(f"{seeded.db_version} at {seeded.host}:{seeded.port}, database kong seeded")

    install = cluster.render(chosen)
    nodes = cluster.gateways(
        chosen=chosen, install=install, addresses=plan.addresses, seeded=seeded
    )
    ca = trustme.CA()
    client_cert = install.client_cert_secret is not None
    try:
        fleet = await parts.enter_async_context(
            sim.Fleet(
                nodes,
                port=chosen.admin_port,
                first_address=plan.addresses[0],
                ssl_context=_kong_certificate(ca, trust_clients=client_cert),
                require_client_cert=client_cert,
            )
        )
    except OSError as error:
        where = f"{plan.addresses[0]}..{plan.addresses[-1]} port {chosen.admin_port}"
        raise _port_taken(error, option="--admin-port", where=where) from None
    cluster.deploy(api, fleet=fleet, install=install, seeded=seeded, ca=ca)
    what = f"{len(nodes)} simulated Kong {chosen.version} gateway pods"
    if install.data_planes:
        what += f" (control planes) and {install.data_planes} data plane pods"
    console.say(
        f"--topology {chosen.deployment}: {what}, pods as the chart renders them; each"
        f" gateway's Admin API (port {cluster.ADMIN_PORT}, as its KONG_ADMIN_LISTEN says) is"
        f" simulated inside its pod (on {plan.addresses[0]}..{plan.addresses[len(nodes) - 1]}"
        f" port {fleet.port}; nothing listens on the emulated pod IPs), so the operator"
        " reaches it through the API server's port-forward"
    )
    if install.client_cert_secret is not None:
        console.say(
            "the Admin API requires a client certificate signed by the Kong Gateway Operator's"
            f" CA: Secret {cluster.NAMESPACE}/{install.client_cert_secret} (kubernetes.io/tls)"
            " holds one, and the request names it (adminApi.tls.clientCertSecretRef)"
        )
    if install.postgres_release is not None:
        console.say(
            f"PostgreSQL behind Service {cluster.NAMESPACE}/{install.postgres_release}-postgresql"
            " (the sub-chart's): its name resolves only inside a cluster"
        )

    await _start_operator(chosen, api=api, parts=parts, console=console)
    clients = kube.Clients.from_api_client(api.client())
    where = f"{cluster.NAMESPACE}/{cluster.REQUEST}"
    await reporting.apply(clients, cluster.request(install=install))
    console.say(f"applied LicenseReportRequest {where}; waiting for the operator ...")
    try:
        obj = await reporting.follow(
            clients,
            namespace=cluster.NAMESPACE,
            name=cluster.REQUEST,
            timeout=chosen.timeout,
            say=console.say,
        )
    except reporting.Timeout as error:
        console.show(reporting.conditions(error.last))
        console.error(
            f"{where} did not end within {chosen.timeout:g} s (last phase: {error.last.phase})"
        )
        return collect.EXIT_FAILED
    return await _show(chosen, obj=obj, clients=clients, console=console)


async def _show(
    chosen: options.Options,
    *,
    obj: dict[str, Any],
    clients: kube.Clients,
    console: terminal.Console,
) -> int:
    current = reporting.status_of(obj)
    if current.phase is v1alpha1.Phase.FAILED:
        console.show(reporting.conditions(current))
        failed = reporting.condition(current, v1alpha1.ConditionType.FAILED)
        message = f"{failed.reason}: {failed.message}" if failed else "no Failed condition"
        console.error(f"the report Failed: {message}")
        return collect.EXIT_FAILED
    assert current.report_config_map is not None
    package = await reporting.read_package(
        clients, namespace=cluster.NAMESPACE, name=current.report_config_map
    )
    files = collecting.write(chosen.out, package)
    console.show(reporting.summary(obj, package))
    if current.derived is not None:
        console.show(reporting.derived(current.derived))
    console.show(f"read from ConfigMap {cluster.NAMESPACE}/{current.report_config_map}")
    console.show("wrote " + ", ".join(str(path) for path in files))
    if current.phase is v1alpha1.Phase.DEGRADED:
        return collect.EXIT_DEGRADED
    return collect.EXIT_COMPLETE


async def _main(chosen: options.Options, *, plan: preflight.Plan, workdir: pathlib.Path) -> int:
    console = terminal.Console()
    with Signals(console) as signals:
        code = terminal.EXIT_INTERRUPTED
        try:
            async with contextlib.AsyncExitStack() as parts:
                work = asyncio.create_task(
                    _report(chosen, plan=plan, workdir=workdir, parts=parts, console=console)
                )
                signals.target = work
                try:
                    code = await work
                except asyncio.CancelledError:
                    if signals.received is None:
                        raise
                except StartError as error:
                    console.error(str(error))
                    code = error.code
                else:
                    if chosen.keep_running and signals.received is None:
                        idle = asyncio.create_task(asyncio.Event().wait())
                        signals.target = idle
                        console.say(
                            "the sandbox keeps running until Ctrl-C; try:\n"
                            f"  KUBECONFIG={workdir / 'kubeconfig'} {_kubectl()} get lrr -A"
                        )
                        with contextlib.suppress(asyncio.CancelledError):
                            await idle
                stopping = "the operator, the gateways, the API server"
                if chosen.deployment is not options.Topology.METERED:
                    stopping += ", PostgreSQL"
                console.say(f"stopping {stopping} ...")
        except (operating.OperatorError, postgres.PostgresServerError) as error:
            console.error(f"while stopping: {error}")
            code = code or collect.EXIT_FAILED
        console.say("stopped")
    return code


def run_sandbox(chosen: options.Options, *, plan: preflight.Plan, workdir: pathlib.Path) -> int:
    return loop.run(_main(chosen, plan=plan, workdir=workdir))
