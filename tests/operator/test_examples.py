"""Each example of examples/, read from its file, applied as is to the pods its topology renders.

The pods are the charts' own renders (sandbox topologies) with the Secrets a real
install already has (the license, the PostgreSQL sub-chart's password), and a
simulated Kong behind each gateway pod's Admin API listener: on the pod's loopback
(a port-forward is the only way in) where the chart puts it there. The real
operator runs each request; a selector must be all it takes.

The datastore of the chart's PostgreSQL sub-chart is the Service name
``<release>-postgresql``, which does not resolve where the tests run: until the
derived datastore goes through datastore_route (DNS, else a port-forward to a pod
behind the Service), the PostgreSQL and hybrid tests add the test server's
host, port and database to the example's spec (`reachable_datastore`); the user
and the password are still derived from the pods.
"""

from __future__ import annotations

import copy
import json
import pathlib
import ssl
from collections.abc import Sequence
from typing import Any

import pytest
import trustme
import yaml

from license_report.reconcile import kube
from license_report.sources import datastore
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, topologies
from tests.helpers import datastores
from tests.helpers.cluster import (
    Operator,
    create,
    gateway_nodes,
    report_config_maps,
    secret,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"
LICENSE = json.dumps(
    {
        "license": {
            "payload": {"license_key": "EXAMPLE-KEY", "license_expiration_date": "2030-01-01"},
            "signature": "s",
            "version": "1",
        }
    }
)
#: The chart's Admin API port, on loopback (chart defaults) or on every address (hybrid).
ADMIN_TLS = 8444
DONE = {"Succeeded", "Degraded", "Failed"}


def example(name: str) -> dict[str, Any]:
    """The one LicenseReportRequest of ``examples/<name>``, as ``kubectl apply`` would send it."""
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    assert [d["kind"] for d in docs] == ["LicenseReportRequest"], "one request, nothing else"
    return docs[0]


def reachable_datastore(
    body: dict[str, Any], settings: datastore.DatastoreSettings
) -> dict[str, Any]:
    """The example with the test PostgreSQL's address: see the module's docstring."""
    body = copy.deepcopy(body)
    assert "datastore" not in body["spec"], "the example derives its datastore"
    body["spec"]["datastore"] = {
        "postgres": {"host": settings.host, "port": settings.port, "database": settings.database}
    }
    return body


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_no_example_holds_a_secret(path: pathlib.Path) -> None:
    """A real install already has its Secrets (the license, the datastore password, client
    certificates): an example applied over one, or synced with self-heal, would replace it."""
    kinds = [d["kind"] for d in yaml.safe_load_all(path.read_text()) if d]
    assert "Secret" not in kinds


@pytest.fixture
def kong_tls() -> ssl.SSLContext:
    """Kong's per-pod self-signed certificate (CN=localhost): no CA anyone could pin."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)
    return context


def put(api: kubeapi.KubeAPI, pods: Sequence[dict[str, Any]]) -> list[str]:
    for pod in pods:
        api.put(pod)
    return [p["metadata"]["name"] for p in pods]


def serve(api: kubeapi.KubeAPI, pods: Sequence[dict[str, Any]], running: sim.Fleet) -> None:
    """Each pod's Admin API TLS listener (8444) is one simulated node, which only a
    port-forward reaches: nothing listens on the pod IPs (unused 127.3.x addresses), so a
    listener on every address (hybrid, kong/ingress) is reached the same way, as ``auto``
    chooses without a CA for Kong's self-signed certificate."""
    for pod, node in zip(pods, running.nodes, strict=True):
        api.pod_network.listen(
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
            {ADMIN_TLS: (node.address, running.port)},
        )


def db_nodes(
    count: int, settings: datastore.DatastoreSettings, *, role: str = "traditional"
) -> list[sim.SimNode]:
    """DB-mode Enterprise nodes on the test PostgreSQL, which they read as Kong does."""
    store = sim.PostgresStore(datastores.dsn(settings))
    return [
        sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, role=role, datastore=store)
        for i in range(count)
    ]


def forwarded(api: kubeapi.KubeAPI) -> set[str]:
    """The pods the operator reached through ``pods/portforward``."""
    return {r.path.split("/")[-2] for r in api.requests if r.path.endswith("/portforward")}


async def test_the_kong_chart_example_reports_on_its_dbless_enterprise_pods(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
) -> None:
    body = example("kong-chart.yaml")
    pods = topologies.chart_default(
        pod_ips=["127.3.0.1", "127.3.0.2"],
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    )
    # Another release in the namespace: its pods must not be in this release's report.
    other = topologies.chart_default(release="other", pod_ips=["127.3.0.9"])
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    async with fleet(gateway_nodes(2), ssl_context=kong_tls) as running:
        names = put(api, pods)
        put(api, other)
        serve(api, pods, running)
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], DONE)

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert (status["summary"]["gatewayPods"], status["summary"]["podsReached"]) == (2, 2)
    assert "podsSkipped" not in status["summary"]
    assert status["derived"] == {
        "adminApi": "https localhost:8444 via port-forward (KONG_ADMIN_LISTEN)",
        "license": "Secret kong-enterprise-license key license (KONG_LICENSE_DATA)",
    }
    assert forwarded(api) == set(names)


async def test_the_postgres_example_reads_the_datastore_and_skips_the_migration_pod(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
    seeded: datastores.Seeder,
) -> None:
    sample = datastores.seed_sample(seeded, nodes=2, window=24)  # 3.4: Kong's 24 months
    body = reachable_datastore(example("kong-chart-postgres.yaml"), sample.settings)
    pods = topologies.chart_postgres(
        pod_ips=["127.3.0.1", "127.3.0.2"],
        migration_ip="127.3.0.8",
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    )
    gateways, migration = pods[:-1], pods[-1]
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    # The sub-chart's Secret: the pods' KONG_PG_PASSWORD names it.
    api.put(secret("kong-postgresql", {"password": datastores.KONG_PASSWORD}))
    async with fleet(db_nodes(2, sample.settings), ssl_context=kong_tls) as running:
        names = put(api, pods)
        serve(api, gateways, running)
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], DONE)

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    summary = status["summary"]
    assert (summary["gatewayPods"], summary["podsReached"], summary["podsSkipped"]) == (2, 2, 1)
    assert summary["requestCount"] == sum(sample.totals.values())
    assert any(migration["metadata"]["name"] in note for note in status["notes"])
    assert "password from Secret kong-postgresql key password" in status["derived"]["datastore"]
    assert forwarded(api) == set(names[:-1])


async def test_the_hybrid_example_asks_the_control_plane_and_not_the_data_planes(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
    seeded: datastores.Seeder,
) -> None:
    sample = datastores.seed_sample(seeded, nodes=1, window=24)
    body = reachable_datastore(example("hybrid.yaml"), sample.settings)
    api.put(kubeapi.make_namespace("kong-dp"))
    control = topologies.hybrid_control_plane(pod_ips=["127.3.0.1"], migration_ip="127.3.0.8")
    data = topologies.hybrid_data_plane(pod_ips=["127.3.1.1", "127.3.1.2"])
    # Each release's license Secret in its own namespace, the control plane's datastore one.
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}, namespace="kong-dp"))
    api.put(secret("cp-postgresql", {"password": datastores.KONG_PASSWORD}))
    planes = db_nodes(1, sample.settings, role="control_plane")
    async with fleet(planes, ssl_context=kong_tls) as running:
        put(api, control)
        put(api, data)
        serve(api, control[:1], running)
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], DONE)

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    summary = status["summary"]
    # The two data planes are gateway pods of the fleet, not reached and not failures.
    assert (summary["gatewayPods"], summary["podsReached"], summary["podsSkipped"]) == (3, 1, 1)
    assert summary["requestCount"] == sum(sample.totals.values())
    assert not status.get("failures")
    assert forwarded(api) == {control[0]["metadata"]["name"]}
    (config_map,) = await report_config_maps(clients)
    notes = [e["counters_note"] for e in json.loads(config_map.data["nodes.json"])]
    assert notes.count("data plane: its counts go to the control plane (telemetry)") == 2


async def test_the_ingress_chart_example_selects_the_gateways_not_the_controllers(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
) -> None:
    body = example("ingress-chart.yaml")
    pods = topologies.ingress_chart(
        gateway_ips=["127.3.0.1", "127.3.0.2"],
        controller_ips=["127.3.0.5"],
        image=topologies.ENTERPRISE_IMAGE,
    )
    gateways = [p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/name"] == "gateway"]
    async with fleet(gateway_nodes(2), ssl_context=kong_tls) as running:
        put(api, pods)
        serve(api, gateways, running)
        await create(clients, body)
        done = await wait_phase(clients, body["metadata"]["name"], DONE)

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert (status["summary"]["gatewayPods"], status["summary"]["podsReached"]) == (2, 2)
    assert status["derived"]["adminApi"] == (
        "https localhost:8444 via port-forward (KONG_ADMIN_LISTEN)"
    )
    assert forwarded(api) == {p["metadata"]["name"] for p in gateways}
