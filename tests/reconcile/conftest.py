"""The reconcile area's API server: the emulator with the ``kong`` namespace and no CRD, since
these tests call the reconcile layer directly, without the operator or its custom resources."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from license_report.reconcile import kube
from license_report_sandbox import kubeapi

NAMESPACE = "kong"


@pytest.fixture
async def api() -> AsyncIterator[kubeapi.KubeAPI]:
    """An emulated API server with the namespace and nothing else in it."""
    async with kubeapi.serve() as server:
        server.put(kubeapi.make_namespace(NAMESPACE))
        yield server


@pytest.fixture
def clients(api: kubeapi.KubeAPI) -> kube.Clients:
    # The clients this area's calls go through: what they send and raise is what is tested.
    return kube.Clients.from_api_client(api.client())
