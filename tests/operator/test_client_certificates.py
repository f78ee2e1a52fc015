"""Admin APIs that require a client certificate (Kong Gateway Operator data planes), and
port-forwards whose kubelet finds nothing listening: the pods are the operator's renders
(sandbox topologies), their Admin APIs simulated Kong nodes reached through the emulator's
``pods/portforward``."""

from __future__ import annotations

import pathlib
import ssl
from typing import Any

import pytest
import trustme
import yaml

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, topologies
from tests.helpers.cluster import Operator, create, gateway_nodes, request, secret, wait_phase
from tests.helpers.fleets import FleetFactory

ROOT = pathlib.Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "gateway-operator.yaml"
POD_IPS = ["127.3.1.1", "127.3.1.2"]
FINAL = {"Succeeded", "Degraded", "Failed"}


@pytest.fixture
def operator_ca() -> trustme.CA:
    """The Kong Gateway Operator's CA: it signs the data planes' and the client's certificates."""
    return trustme.CA()


@pytest.fixture
def admin_tls(operator_ca: trustme.CA) -> ssl.SSLContext:
    """The data plane's Admin API: its certificate, and client certificates checked against
    the operator's CA (the fleet makes one required)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    operator_ca.issue_cert("localhost").configure_cert(context)
    operator_ca.configure_trust(context)
    return context


def example() -> dict[str, Any]:
    (body,) = [doc for doc in yaml.safe_load_all(EXAMPLE.read_text()) if doc]
    assert body["kind"] == "LicenseReportRequest"
    return dict(body)


def dataplane(api: kubeapi.KubeAPI, running: sim.Fleet, *, name: str) -> list[str]:
    """The DataPlane's pods, each pod's 8444 a simulated node."""
    pods = topologies.gateway_operator(dataplane=name, pod_ips=POD_IPS)
    for pod, node in zip(pods, running.nodes, strict=True):
        api.put(pod)
        api.pod_network.listen(
            "kong", pod["metadata"]["name"], {8444: (node.address, running.port)}
        )
    return [p["metadata"]["name"] for p in pods]


def client_secret(ca: trustme.CA, name: str) -> dict[str, Any]:
    """The kubernetes.io/tls Secret the Kong Gateway Operator keeps for its ControlPlane."""
    issued = ca.issue_cert("controlplane-example")
    body = secret(
        name,
        {
            "tls.crt": b"".join(p.bytes() for p in issued.cert_chain_pems).decode(),
            "tls.key": issued.private_key_pem.bytes().decode(),
            "ca.crt": ca.cert_pem.bytes().decode(),
        },
    )
    body["type"] = "kubernetes.io/tls"
    return body


async def test_the_gateway_operator_example_succeeds_with_the_operator_s_client_certificate(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    operator_ca: trustme.CA,
    admin_tls: ssl.SSLContext,
) -> None:
    body = example()
    name = body["spec"]["gateway"]["selector"]["matchLabels"]["app"]
    ref = body["spec"]["gateway"]["adminApi"]["tls"]["clientCertSecretRef"]["name"]
    async with fleet(gateway_nodes(2), ssl_context=admin_tls, require_client_cert=True) as running:
        dataplane(api, running, name=name)
        api.put(client_secret(operator_ca, ref))
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], FINAL)

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["summary"]["podsReached"] == 2


async def test_without_the_client_certificate_the_run_fails_at_once_naming_it(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    admin_tls: ssl.SSLContext,
) -> None:
    body = example()
    name = body["spec"]["gateway"]["selector"]["matchLabels"]["app"]
    async with fleet(gateway_nodes(2), ssl_context=admin_tls, require_client_cert=True) as running:
        dataplane(api, running, name=name)
        spec = {"gateway": {"selector": body["spec"]["gateway"]["selector"]}}
        await create(clients, request("no-cert", spec=spec))
        done = await wait_phase(clients, "no-cert", FINAL, timeout=15)

    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert (done["status"]["phase"], failed["reason"]) == ("Failed", "AdminTLSFailed")
    assert "requires a client certificate" in failed["message"]


async def test_a_missing_client_certificate_secret_is_named(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    admin_tls: ssl.SSLContext,
) -> None:
    body = example()
    async with fleet(gateway_nodes(2), ssl_context=admin_tls, require_client_cert=True) as running:
        dataplane(api, running, name=body["spec"]["gateway"]["selector"]["matchLabels"]["app"])
        api.put(secret("not-a-pair", {"tls.crt": "nope", "tls.key": "nope"}))
        body["spec"]["gateway"]["adminApi"]["tls"]["clientCertSecretRef"]["name"] = "not-a-pair"
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], FINAL, timeout=15)

    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert (done["status"]["phase"], failed["reason"]) == ("Failed", "InvalidClientCertificate")
    assert "kong/not-a-pair" in failed["message"]
    assert "clientCertSecretRef" in failed["message"]


async def test_a_port_forward_to_a_port_nothing_listens_on_names_the_kubelet_s_refusal(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    admin_tls: ssl.SSLContext,
) -> None:
    async with fleet(gateway_nodes(1), ssl_context=admin_tls) as running:
        pods = topologies.chart_default(pod_ips=POD_IPS)
        for pod in pods:
            api.put(pod)
        # Only the first pod's loopback listener exists; the second's 8444 has nothing.
        api.pod_network.listen(
            "kong", pods[0]["metadata"]["name"], {8444: (running.nodes[0].address, running.port)}
        )
        selector = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}
        await create(
            clients, request("half", spec={"gateway": {"selector": {"matchLabels": selector}}})
        )
        done = await wait_phase(clients, "half", FINAL, timeout=15)

    status = done["status"]
    assert status["phase"] == "Degraded", status
    (failure,) = status["failures"]
    assert failure["pod"] == pods[1]["metadata"]["name"]
    assert failure["reason"] == "ConnectionRefused"
    assert "nothing listens on port 8444" in failure["message"]
