"""Reaching Kong's datastore by the host Kong's pods are given: directly when it resolves, else
through a port-forward to a ready pod of the Service it names, against the emulated API server
and a real PostgreSQL that listens where only the port-forward reaches it.

The cluster is laid out as the Kong chart with its PostgreSQL sub-chart renders it: a Service
``<release>-postgresql`` (port 5432 named ``tcp-postgresql``, targetPort by name) selecting the
StatefulSet pod ``<release>-postgresql-0``, and the EndpointSlice the controller writes for it.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import urllib.parse
from typing import Any

import psycopg
import pytest

from license_report.api import errors
from license_report.reconcile import datastore_route, kube
from license_report.report.window import Window
from license_report.sources import datastore
from license_report_sandbox import kubeapi, postgres, seed
from tests.helpers.datastores import Seeder

NAMESPACE = "kong"
SERVICE = "kong-postgresql"
POD = "kong-postgresql-0"
POD_IP = "127.0.0.5"  # the Pod object's IP: nothing listens there
PG_PORT = 5432
DNS_TIMEOUT = 2.0
LABELS = {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "kong"}


def _postgres_pod(api: kubeapi.KubeAPI, name: str = POD, *, ready: bool = True) -> None:
    api.put(
        kubeapi.make_pod(
            name,
            NAMESPACE,
            labels=LABELS,
            ip=POD_IP,
            node_name="node-1",
            ready=ready,
            ports=[("tcp-postgresql", PG_PORT)],
            image="docker.io/bitnami/postgresql:13.11.0",
            container="postgresql",
        )
    )


def _service(
    api: kubeapi.KubeAPI, *, endpoints: list[tuple[str, bool]], slice_port: str = "tcp-postgresql"
) -> None:
    """The Service and the EndpointSlice the controller writes for ``endpoints`` (pod, ready)."""
    service = api.put(
        kubeapi.make_service(
            SERVICE, NAMESPACE, selector=LABELS, ports=[("tcp-postgresql", PG_PORT, slice_port)]
        )
    )
    api.put(
        kubeapi.make_endpoint_slice(
            service,
            endpoints=[(pod, POD_IP, ready) for pod, ready in endpoints],
            ports=[(slice_port, PG_PORT)],
        )
    )


def _listen(api: kubeapi.KubeAPI, server: postgres.Server, pod: str = POD) -> None:
    """PostgreSQL's 127.0.0.1:<port> is the pod's port 5432: only a port-forward gets there."""
    api.pod_network.listen(NAMESPACE, pod, {PG_PORT: (server.host, server.port)})


async def _route(clients: kube.Clients, host: str, port: int = PG_PORT) -> datastore_route.Route:
    return await datastore_route.route(
        clients=clients, host=host, port=port, namespace=NAMESPACE, dns_timeout=DNS_TIMEOUT
    )


async def _select_one(settings: datastore.DatastoreSettings) -> tuple[Any, ...] | None:
    async with await psycopg.AsyncConnection.connect(
        host=settings.host,
        hostaddr=settings.hostaddr,
        port=settings.port,
        dbname=settings.database,
        user=settings.user,
        password=settings.password,
        connect_timeout=5,
    ) as conn:
        cursor = await conn.execute("SELECT 1, current_database()")
        return await cursor.fetchone()


def _api_calls(api: kubeapi.KubeAPI) -> list[str]:
    """The requests the route made (discovery left out), with their label selectors."""
    made = []
    for record in api.requests:
        if "/namespaces/" not in record.path:
            continue
        query = urllib.parse.parse_qs(record.query).get("labelSelector", [""])[0]
        made.append(f"{record.method} {record.path}" + (f"?{query}" if query else ""))
    return made


def _refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_host_that_resolves_is_connected_to_directly(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    kong_db: datastore.DatastoreSettings,
    host: str,
) -> None:
    async with await _route(clients, host, kong_db.port) as route:
        assert route.via == datastore_route.Via.DIRECT
        assert (route.host, route.port, route.hostaddr) == (host, kong_db.port, None)
        assert route.address == (host, kong_db.port)
        assert route.message == f"{host} resolves: connecting to it directly"
        assert await _select_one(route.settings(kong_db)) == (1, kong_db.database)
    assert _api_calls(api) == []  # nothing asked of the cluster


@pytest.mark.parametrize(
    "host", [SERVICE, f"{SERVICE}.{NAMESPACE}", f"{SERVICE}.{NAMESPACE}.svc.cluster.local"]
)
async def test_a_service_name_that_does_not_resolve_goes_through_a_port_forward_to_its_pod(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    pg_server: postgres.Server,
    kong_db: datastore.DatastoreSettings,
    host: str,
) -> None:
    _postgres_pod(api)
    _service(api, endpoints=[(POD, True)])
    _listen(api, pg_server)
    assert _refused(POD_IP, PG_PORT)  # only a port-forward reaches PostgreSQL
    assert _refused(POD_IP, pg_server.port)
    async with await _route(clients, host) as route:
        assert route.via == datastore_route.Via.PORT_FORWARD
        assert route.host == host  # what libpq checks a certificate against
        assert route.hostaddr == "127.0.0.1"
        assert route.port not in (PG_PORT, pg_server.port)
        assert (route.service, route.pod, route.pod_port) == (
            f"{NAMESPACE}/{SERVICE}",
            f"{NAMESPACE}/{POD}",
            PG_PORT,
        )
        assert route.message == (
            f"{host} does not resolve here: port-forward to port {PG_PORT} of pod"
            f" {NAMESPACE}/{POD}, a ready endpoint of Service {NAMESPACE}/{SERVICE}"
        )
        assert await _select_one(route.settings(kong_db)) == (1, kong_db.database)
        assert route.failure is None
        local = route.address
    assert _refused(*local)  # closed on leaving
    assert _api_calls(api) == [
        f"GET /api/v1/namespaces/{NAMESPACE}/services/{SERVICE}",
        f"GET /apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"
        f"?kubernetes.io/service-name={SERVICE}",
        f"GET /api/v1/namespaces/{NAMESPACE}/pods/{POD}/portforward",
    ]


async def test_the_datastore_reader_reads_kongs_figures_through_the_port_forward(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    pg_server: postgres.Server,
    seeded: Seeder,
) -> None:
    settings = seeded(seed.Seed(services_per_workspace={"default": 3}, routes=4))
    _postgres_pod(api)
    _service(api, endpoints=[(POD, True)])
    _listen(api, pg_server)
    window = Window.ending(now=datetime.datetime.now(datetime.UTC), months=12)
    base = datastore.DatastoreSettings(
        host=SERVICE, database=settings.database, user=settings.user, password=settings.password
    )
    async with await _route(clients, SERVICE) as route:
        figures = await datastore.read(settings=route.settings(base), window=window)
    assert (figures.counts.services, figures.counts.routes) == (3, 4)


async def test_the_first_ready_pod_is_chosen_and_a_pod_gone_since_is_passed_over(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    pg_server: postgres.Server,
    kong_db: datastore.DatastoreSettings,
) -> None:
    # -0 not ready, -1 deleted since the slice was written, -2 ready and there.
    _postgres_pod(api, "kong-postgresql-0", ready=False)
    _postgres_pod(api, "kong-postgresql-2")
    _service(
        api,
        endpoints=[("kong-postgresql-2", True), ("kong-postgresql-1", True), (POD, False)],
    )
    _listen(api, pg_server, "kong-postgresql-2")
    async with await _route(clients, SERVICE) as route:
        assert route.pod == f"{NAMESPACE}/kong-postgresql-2"
        assert await _select_one(route.settings(kong_db)) == (1, kong_db.database)


async def test_a_service_without_a_ready_pod_is_named_and_transient(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    _postgres_pod(api, ready=False)
    _service(api, endpoints=[(POD, False)])
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, SERVICE)
    assert caught.value.reason == errors.Reason.DATASTORE_NO_READY_ENDPOINT
    assert caught.value.transient
    assert f"Service {NAMESPACE}/{SERVICE} has no ready pod" in caught.value.message
    assert "(1 endpoints, 1 not ready, 0 not pods)" in caught.value.message
    assert isinstance(caught.value, datastore.DatastoreError)  # one class to catch


async def test_a_service_whose_slices_do_not_serve_its_port_has_no_ready_pod(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    service = api.put(
        kubeapi.make_service(SERVICE, NAMESPACE, selector=LABELS, ports=[("", PG_PORT, PG_PORT)])
    )
    api.put(kubeapi.make_endpoint_slice(service, endpoints=[(POD, POD_IP, True)], ports=[]))
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, SERVICE)
    assert caught.value.reason == errors.Reason.DATASTORE_NO_READY_ENDPOINT
    assert "none with its port" in caught.value.message


async def test_a_service_without_slices_says_to_check_its_selector(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    api.put(
        kubeapi.make_service(SERVICE, NAMESPACE, selector=LABELS, ports=[("", PG_PORT, PG_PORT)])
    )
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, SERVICE)
    assert caught.value.reason == errors.Reason.DATASTORE_NO_READY_ENDPOINT
    assert "no EndpointSlices: does its selector match any pod?" in caught.value.message


async def test_an_unknown_service_is_named_and_not_retried(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, "kong-postgres")
    assert caught.value.reason == errors.Reason.DATASTORE_SERVICE_NOT_FOUND
    assert not caught.value.transient
    assert "there is no Service kong/kong-postgres" in caught.value.message


async def test_a_port_the_service_does_not_have_is_named_with_the_ports_it_has(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    _service(api, endpoints=[(POD, True)])
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, SERVICE, 5433)
    assert caught.value.reason == errors.Reason.DATASTORE_SERVICE_PORT_NOT_FOUND
    assert not caught.value.transient
    assert "has no TCP port 5433 (its ports: 5432 (tcp-postgresql))" in caught.value.message


async def test_port_forward_forbidden_names_the_permission_and_is_not_retried(
    api: kubeapi.KubeAPI, clients: kube.Clients, pg_server: postgres.Server
) -> None:
    _postgres_pod(api)
    _service(api, endpoints=[(POD, True)])
    _listen(api, pg_server)
    api.pod_network.forbid(NAMESPACE)
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, SERVICE)
    assert caught.value.reason == errors.Reason.PORT_FORWARD_FORBIDDEN
    assert not caught.value.transient
    assert "`create` `pods/portforward` in namespace kong" in caught.value.message
    assert f"behind Service {NAMESPACE}/{SERVICE}" in caught.value.message


async def test_nothing_listening_in_the_pod_is_named_by_the_route_after_psycopg_fails(
    api: kubeapi.KubeAPI, clients: kube.Clients, kong_db: datastore.DatastoreSettings
) -> None:
    _postgres_pod(api)
    _service(api, endpoints=[(POD, True)])  # no listener: the kubelet dials the pod IP, refused
    async with await _route(clients, SERVICE) as route:
        with pytest.raises(psycopg.OperationalError):
            await _select_one(route.settings(kong_db))
        for _ in range(100):  # the error channel's message follows the closed connection
            if route.failure is not None:
                break
            await asyncio.sleep(0.01)
        assert route.failure is not None
        assert route.failure.reason == errors.Reason.CONNECTION_REFUSED
        assert f"nothing listens on port {PG_PORT}" in route.failure.message


async def test_a_name_that_does_not_resolve_and_is_no_service_name_is_named(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    # RFC 2606: .invalid never resolves; three labels without .svc are no Service name.
    with pytest.raises(datastore_route.RouteError) as caught:
        await _route(clients, "postgres.example.invalid")
    assert caught.value.reason == errors.Reason.DATASTORE_HOST_NOT_FOUND
    assert caught.value.transient  # as libpq's own "could not translate host name" is
    assert _api_calls(api) == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("kong-postgresql", ("kong", "kong-postgresql")),
        ("kong-postgresql.db", ("db", "kong-postgresql")),
        ("kong-postgresql.db.svc", ("db", "kong-postgresql")),
        ("Kong-PostgreSQL.db.svc.cluster.local.", ("db", "kong-postgresql")),
        ("kong-postgresql.db.svc.example.internal", ("db", "kong-postgresql")),
        ("10.0.0.7", None),
        ("db.example.com", None),
        ("1db", None),  # a Service name starts with a letter
        ("::1", None),
    ],
)
def test_which_hosts_are_service_names(host: str, expected: tuple[str, str] | None) -> None:
    assert datastore_route.service_of(host, namespace="kong") == expected
