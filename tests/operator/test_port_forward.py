"""The Kong chart's defaults, asked with a request that is only a selector: the Admin API
listens on the pods' loopback, so the operator goes through the API server's port-forward.

The pods are the chart's render (sandbox topologies); their loopback listeners are the
simulated Kong nodes, on addresses the Pod objects never show, reachable only through the
emulator's ``pods/portforward``.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest
import trustme

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, topologies
from tests.helpers.cluster import (
    Operator,
    create,
    gateway_nodes,
    request,
    secret,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

POD_IPS = ["127.3.0.1", "127.3.0.2"]  # nothing listens there: only a port-forward reaches Kong
SELECTOR = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}
LICENSE = {
    "license": {
        "payload": {"license_key": "CHART-KEY", "license_expiration_date": "2030-01-01"},
        "signature": "s",
        "version": "1",
    }
}


@pytest.fixture
def kong_tls() -> ssl.SSLContext:
    """Kong's per-pod self-signed certificate (CN=localhost): no CA anyone could pin."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)
    return context


def chart_release(api: kubeapi.KubeAPI, running: sim.Fleet) -> list[str]:
    """The chart's Enterprise DB-less pods, each pod's 127.0.0.1:8444 a simulated node."""
    pods = topologies.chart_default(
        pod_ips=POD_IPS,
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    )
    for pod, node in zip(pods, running.nodes, strict=True):
        api.put(pod)
        api.pod_network.listen(
            "kong", pod["metadata"]["name"], {8444: (node.address, running.port)}
        )
    api.put(secret(topologies.LICENSE_SECRET, {"license": json.dumps(LICENSE)}))
    return [p["metadata"]["name"] for p in pods]


def assert_nothing_listens(ip: str, port: int) -> None:
    """The pod IP has no admin port open: only the port-forward can reach Kong."""
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex((ip, port)) != 0


async def test_a_selector_alone_reports_on_the_chart_s_loopback_admin_api(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
) -> None:
    async with fleet(gateway_nodes(2), ssl_context=kong_tls) as running:
        chart_release(api, running)
        assert_nothing_listens(POD_IPS[0], 8444)
        await create(
            clients, request("chart", spec={"gateway": {"selector": {"matchLabels": SELECTOR}}})
        )
        done = await wait_phase(clients, "chart", {"Succeeded", "Degraded", "Failed"})

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["summary"]["podsReached"] == 2
    assert status["derived"] == {
        "adminApi": "https localhost:8444 via port-forward (KONG_ADMIN_LISTEN)",
        "license": "Secret kong-enterprise-license key license (KONG_LICENSE_DATA)",
    }
    forwarded = [r for r in api.requests if r.path.endswith("/portforward")]
    assert len(forwarded) >= 2


async def test_port_forward_refused_by_rbac_fails_at_once_with_its_reason(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
) -> None:
    async with fleet(gateway_nodes(2), ssl_context=kong_tls) as running:
        chart_release(api, running)
        api.pod_network.forbid("kong")
        await create(
            clients, request("denied", spec={"gateway": {"selector": {"matchLabels": SELECTOR}}})
        )
        done = await wait_phase(clients, "denied", {"Succeeded", "Degraded", "Failed"}, timeout=10)

    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert (done["status"]["phase"], failed["status"]) == ("Failed", "True")
    assert failed["reason"] == "PortForwardForbidden"
    assert "pods/portforward" in failed["message"]
