"""Fixtures for the simulators' own tests: a client session and a test CA."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import kubernetes.client
import pytest
import trustme

from license_report_sandbox import kubeapi


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client; force_close so a node that stops listening is seen at once."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


# --- the emulated Kubernetes API server ------------------------------------------------------


@pytest.fixture
async def cluster() -> AsyncIterator[kubeapi.KubeAPI]:
    """An emulated API server over HTTPS with a bearer token, in the test's event loop."""
    async with kubeapi.serve(tls=True) as api:
        yield api


@pytest.fixture
def core(cluster: kubeapi.KubeAPI) -> kubernetes.client.CoreV1Api:
    """The real ``kubernetes`` client (synchronous: call it through ``asyncio.to_thread``)."""
    return kubernetes.client.CoreV1Api(cluster.client())


@pytest.fixture
async def kube_http(cluster: kubeapi.KubeAPI) -> AsyncIterator[aiohttp.ClientSession]:
    """Raw HTTP to the emulator (status codes, content types, watch streams), authenticated."""
    assert cluster.ca_pem is not None
    context = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    connector = aiohttp.TCPConnector(ssl=context)
    headers = {"Authorization": f"Bearer {cluster.token}"}
    async with aiohttp.ClientSession(cluster.url, connector=connector, headers=headers) as client:
        yield client


@pytest.fixture
def lrr_crd() -> dict[str, object]:
    """A minimal CRD for LicenseReportRequest, written out (not the project's generated one)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "licensereportrequests.licensereport.io"},
        "spec": {
            "group": "licensereport.io",
            "scope": "Namespaced",
            "names": {
                "kind": "LicenseReportRequest",
                "listKind": "LicenseReportRequestList",
                "plural": "licensereportrequests",
                "singular": "licensereportrequest",
                "shortNames": ["lrr"],
                "categories": ["kong"],
            },
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {
                            "name": "Pods",
                            "type": "integer",
                            "jsonPath": ".status.summary.gatewayPods",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
