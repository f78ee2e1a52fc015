"""Each example of examples/, read from its file, applied as is to the pods its topology renders.

The pods are the charts' own renders (sandbox topologies) with the Secrets a real
install already has (the license, the PostgreSQL sub-chart's password), and a
simulated Kong behind each gateway pod's Admin API listener: on the pod's loopback
(a port-forward is the only way in) where the chart puts it there. The real
operator runs each request; a selector must be all it takes.

The datastore of the chart's PostgreSQL sub-chart is what a real install has: the
Service ``<release>-postgresql``, its EndpointSlice and the sub-chart's pod, whose
port 5432 is the test PostgreSQL (reached, as the name does not resolve here, through
a port-forward to that pod), and in it the database ``kong`` the pods name (Kong's
default, KONG_PG_DATABASE being unset), owned by role ``kong``.
"""

from __future__ import annotations

import json
import pathlib
import ssl
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
import trustme
import yaml

from license_report.reconcile import kube
from license_report.sources import datastore
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, postgres, seed, topologies
from license_report_sandbox.topologies import postgresql
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


#: Where the sub-chart's PostgreSQL pod is: nothing listens there, only a port-forward
#: reaches its port 5432.
PG_POD_IP = "127.3.2.1"


@pytest.fixture
def chart_database(pg_server: postgres.Server) -> Iterator[datastores.Seeder]:
    """The test PostgreSQL's database as the chart's pods name it, ``kong`` owned by role
    ``kong`` (the sub-chart's defaults), to seed; dropped after. The server is this run's
    own, so the name is free (creating it fails loudly if not)."""
    name = postgres.create_kong_database(
        pg_server, name="kong", owner_password=datastores.KONG_PASSWORD
    )
    settings = datastore.DatastoreSettings(
        host=pg_server.host,
        port=pg_server.port,
        database=name,
        user="kong",
        password=datastores.KONG_PASSWORD,
    )

    def apply(definition: seed.Seed) -> datastore.DatastoreSettings:
        with psycopg.connect(datastores.dsn(settings)) as conn:
            seed.apply_seed(conn, definition)
        return settings

    yield apply
    postgres.drop_database(pg_server, name=name)


def sub_chart(api: kubeapi.KubeAPI, *, release: str, settings: datastore.DatastoreSettings) -> str:
    """The release's PostgreSQL sub-chart: its password Secret (the pods' KONG_PG_PASSWORD
    names it), pod, Service and EndpointSlice, the pod's port 5432 the test PostgreSQL.
    Returns the pod's name."""
    api.put(secret(f"{release}-postgresql", {"password": datastores.KONG_PASSWORD}))
    postgresql.install(
        api, release=release, pod_ip=PG_POD_IP, server=(settings.host, settings.port)
    )
    return f"{release}-postgresql-0"


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
    chart_database: datastores.Seeder,
) -> None:
    sample = datastores.seed_sample(chart_database, nodes=2, window=24)  # 3.4: Kong's 24 months
    body = example("kong-chart-postgres.yaml")
    pods = topologies.chart_postgres(
        pod_ips=["127.3.0.1", "127.3.0.2"],
        migration_ip="127.3.0.8",
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    )
    gateways, migration = pods[:-1], pods[-1]
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    datastore_pod = sub_chart(api, release="kong", settings=sample.settings)
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
    assert status["derived"]["datastore"].endswith(
        f"port-forward to port 5432 of pod kong/{datastore_pod}, a ready endpoint of Service"
        " kong/kong-postgresql"
    )
    assert forwarded(api) == {*names[:-1], datastore_pod}


async def test_the_hybrid_example_asks_the_control_plane_and_not_the_data_planes(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_tls: ssl.SSLContext,
    chart_database: datastores.Seeder,
) -> None:
    sample = datastores.seed_sample(chart_database, nodes=1, window=24)
    body = example("hybrid.yaml")
    api.put(kubeapi.make_namespace("kong-dp"))
    control = topologies.hybrid_control_plane(pod_ips=["127.3.0.1"], migration_ip="127.3.0.8")
    data = topologies.hybrid_data_plane(pod_ips=["127.3.1.1", "127.3.1.2"])
    # Each release's license Secret in its own namespace, the control plane's datastore one.
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}, namespace="kong-dp"))
    datastore_pod = sub_chart(api, release="cp", settings=sample.settings)
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
    assert forwarded(api) == {control[0]["metadata"]["name"], datastore_pod}
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
