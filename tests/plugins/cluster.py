"""The emulated API server over HTTPS, and the real operator (kopf) against it: in-process, in
its own thread (``operator``), or as a child process a test can kill (``operator_process``)."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest
import yaml

from license_report.handlers import context as operator_context
from license_report.reconcile import kube, run
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    CRD_FILE,
    OPERATOR_NAMESPACE,
    Operator,
    OperatorProcess,
    operator_clients,
)


@pytest.fixture
async def api() -> AsyncIterator[kubeapi.KubeAPI]:
    async with kubeapi.serve() as server:
        server.register_crd(yaml.safe_load(CRD_FILE.read_text()))
        for namespace in (OPERATOR_NAMESPACE, "kong"):
            server.put(kubeapi.make_namespace(namespace))
        yield server


@pytest.fixture
def clients(api: kubeapi.KubeAPI) -> kube.Clients:
    return kube.Clients.from_api_client(api.client())


@pytest.fixture
def settings() -> run.OperatorSettings:
    # Short retry budget and backoff: tests see "retried, then Failed" in seconds.
    return run.OperatorSettings(
        namespace=OPERATOR_NAMESPACE,
        retry_seconds=3.0,
        backoff_seconds=0.2,
        backoff_max_seconds=0.5,
    )


@pytest.fixture
def clock() -> operator_context.Clock:
    return operator_context.SystemClock()


@pytest.fixture
async def operator(
    api: kubeapi.KubeAPI, settings: run.OperatorSettings, clock: operator_context.Clock
) -> AsyncIterator[Operator]:
    running = Operator(clients=operator_clients(api), settings=settings, clock=clock)
    await running.start()
    yield running
    if running.thread is not None:
        await running.stop()


@pytest.fixture
def stopped_operator(api: kubeapi.KubeAPI, settings: run.OperatorSettings) -> Operator:
    return Operator(clients=operator_clients(api), settings=settings)


@pytest.fixture
async def operator_process(
    api: kubeapi.KubeAPI, tmp_path: pathlib.Path
) -> AsyncIterator[OperatorProcess]:
    child = OperatorProcess(kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"))
    yield child
    if child.process is not None:
        await child.kill()
