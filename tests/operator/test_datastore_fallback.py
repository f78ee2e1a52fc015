"""The Kong chart with its PostgreSQL sub-chart, asked with a request that is only a selector:
the datastore the pods name (``KONG_PG_HOST=kong-postgresql``) does not resolve here, so it is
reached through a port-forward to the ready pod behind its Service; when it cannot be reached
at all, a gateway's own /license/report gives the figures and the run still Succeeds. A
datastore the spec names that cannot be reached fails, as before.

The simulated gateways' own reports show figures that differ from the real PostgreSQL's, so
that each test can tell which of the two a report was made from.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from license_report.reconcile import kube
from license_report.sources import datastore
from license_report_sandbox import kubeapi
from license_report_sandbox.topologies import postgresql
from tests.helpers import datastores, kong_charts
from tests.helpers.cluster import (
    Operator,
    consistent_report,
    create,
    request,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory


@pytest.fixture
def kong_tls() -> ssl.SSLContext:
    return kong_charts.kong_tls()


def only_a_selector(database: str) -> dict[str, object]:
    """A selector; the database name is the test's own (the chart's is ``kong``)."""
    return {
        "gateway": {"selector": {"matchLabels": kong_charts.SELECTOR}},
        "datastore": {"postgres": {"database": database}},
    }


def refused(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) != 0


async def test_the_sub_chart_s_postgresql_is_read_through_a_port_forward(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    seeded: datastores.Seeder,
    kong_tls: ssl.SSLContext,
) -> None:
    sample = datastores.seed_sample(seeded, nodes=3, window=24)
    db = sample.settings
    async with fleet(kong_charts.db_nodes(), ssl_context=kong_tls) as running:
        kong_charts.chart_release(api, running, password=db.password or "")
        postgresql.install(api, pod_ip=kong_charts.PG_POD_IP, server=(db.host, db.port))
        assert refused(kong_charts.PG_POD_IP, postgresql.PORT)
        await create(clients, request("pg", spec=only_a_selector(db.database)))
        done = await wait_phase(clients, "pg", {"Succeeded", "Degraded", "Failed"})

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    _, config_map = await consistent_report(clients, "pg", run="1/")
    report = json.loads(config_map.data["report.json"])
    assert {c["bucket"]: c["request_count"] for c in report["counters"]} == sample.totals
    assert report["services_count"] != kong_charts.OWN_SERVICES
    assert report["db_version"].startswith("postgres 1")  # the server's, not a node's
    assert status["derived"]["datastore"].endswith(
        "; kong-postgresql.kong.svc does not resolve here: port-forward to port 5432 of pod"
        " kong/kong-postgresql-0, a ready endpoint of Service kong/kong-postgresql"
    )
    forwarded = {r.path for r in api.requests if r.path.endswith("/portforward")}
    assert "/api/v1/namespaces/kong/pods/kong-postgresql-0/portforward" in forwarded


@pytest.mark.parametrize("gone", ["no ready endpoint", "nothing listening in the pod"])
async def test_a_postgresql_out_of_reach_leaves_the_figures_to_a_gateway_s_own_report(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_db: datastore.DatastoreSettings,
    kong_tls: ssl.SSLContext,
    gone: str,
) -> None:
    async with fleet(kong_charts.db_nodes(), ssl_context=kong_tls) as running:
        kong_charts.chart_release(api, running, password=kong_db.password or "")
        if gone == "no ready endpoint":
            postgresql.install(api, pod_ip=kong_charts.PG_POD_IP, server=None, ready=False)
        else:
            postgresql.install(api, pod_ip=kong_charts.PG_POD_IP, server=None)
        await create(clients, request("fallback", spec=only_a_selector(kong_db.database)))
        done = await wait_phase(clients, "fallback", {"Succeeded", "Degraded", "Failed"})

    status = done["status"]
    assert status["phase"] == "Succeeded", status
    _, config_map = await consistent_report(clients, "fallback", run="1/")
    report = json.loads(config_map.data["report.json"])
    counters = {c["bucket"]: c["request_count"] for c in report["counters"]}
    assert counters == kong_charts.own_counters()
    assert report["services_count"] == kong_charts.OWN_SERVICES
    reason = "DatastoreNoReadyEndpoint" if gone == "no ready endpoint" else "ConnectionRefused"
    assert f"not read, {reason}: " in status["derived"]["datastore"]
    assert any(
        note.startswith(f"The datastore could not be read ({reason}: ")
        and "the counters and counts are kong-" in note
        for note in status.get("notes", [])
    ), status


async def test_an_explicit_datastore_out_of_reach_fails_after_retries(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    kong_db: datastore.DatastoreSettings,
    kong_tls: ssl.SSLContext,
) -> None:
    async with fleet(kong_charts.db_nodes(), ssl_context=kong_tls) as running:
        kong_charts.chart_release(api, running, password=kong_db.password or "")
        postgresql.install(api, pod_ip=kong_charts.PG_POD_IP, server=None, ready=False)
        spec = only_a_selector(kong_db.database)
        spec["datastore"] = {"postgres": {"host": "kong-postgresql.kong.svc"}}
        await create(clients, request("explicit", spec=spec))
        done = await wait_phase(clients, "explicit", {"Succeeded", "Degraded", "Failed"})

    status = done["status"]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert (status["phase"], failed["status"]) == ("Failed", "True"), status
    assert failed["reason"].startswith("Datastore"), failed
