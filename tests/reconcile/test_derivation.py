"""Configuration from the pod spec: what each chart's pods say, their Secrets followed.

Pods as the charts render them (sandbox topologies) in the emulated API server;
the Secrets their env names live in the pods' namespace.
"""

from __future__ import annotations

from typing import Any

import pytest

from license_report.api import errors, v1alpha1
from license_report.reconcile import derivation, discovery, kongconf, kube
from license_report.sources import datastore
from license_report_sandbox import kubeapi, topologies
from tests.helpers.cluster import secret

APP = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}
LICENSE = '{"license": {"payload": {"license_key": "KEY"}, "signature": "s"}}'
PASSWORD = "pg-secret-value"


def spec(**fields: Any) -> v1alpha1.Spec:
    gateway = {"selector": {"matchLabels": APP}, **fields.pop("gateway", {})}
    return v1alpha1.Spec.model_validate({"gateway": gateway, **fields})


async def derive(clients: kube.Clients, request: v1alpha1.Spec) -> derivation.Derived:
    found = await discovery.discover(clients=clients, namespace="kong", gateway=request.gateway)
    return await derivation.derive(
        clients=clients, spec=request, found=found, token=None, license_text=None, password=None
    )


def put_chart_postgres(api: kubeapi.KubeAPI) -> None:
    for pod in topologies.chart_postgres(
        pod_ips=["127.2.0.1", "127.2.0.2"],
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    ):
        api.put(pod)
    api.put(secret("kong-postgresql", {"password": PASSWORD}))
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))


async def test_the_chart_s_datastore_and_license_come_from_the_pods_and_their_secrets(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    put_chart_postgres(api)

    derived = await derive(clients, spec())

    assert derived.database == datastore.DatastoreSettings(
        host="kong-postgresql.kong.svc",
        port=5432,
        database="kong",
        user="kong",
        password=PASSWORD,
        sslmode="disable",  # no KONG_PG_SSL: Kong's default is off
    )
    assert derived.license_text == LICENSE
    assert derived.status is not None
    assert derived.status.datastore == (
        "kong-postgresql.kong.svc:5432 database kong user kong sslmode disable (KONG_PG_*, "
        "password from Secret kong-postgresql key password (KONG_PG_PASSWORD))"
    )
    assert derived.status.license == (
        "Secret kong-enterprise-license key license (KONG_LICENSE_DATA)"
    )
    shown = derived.status.model_dump_json()
    assert PASSWORD not in shown
    assert "KEY" not in shown


async def test_explicit_fields_win_and_the_datastore_can_be_turned_off(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    put_chart_postgres(api)

    given = await derive(
        clients, spec(datastore={"postgres": {"host": "pg.example", "sslMode": "require"}})
    )
    off = await derive(clients, spec(datastore={"disabled": True}))

    assert given.database is not None
    assert (given.database.host, given.database.sslmode) == ("pg.example", "require")
    assert (given.database.user, given.database.password) == ("kong", PASSWORD)
    assert given.status is not None
    assert given.status.datastore is not None
    assert given.status.datastore.endswith("spec.datastore.postgres gives host, ssl_mode)")
    assert off.database is None


async def test_pods_naming_two_datastores_are_a_named_error(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    put_chart_postgres(api)
    for pod in topologies.chart_postgres(release="other", pod_ips=["127.2.0.3"]):
        pod["metadata"]["labels"].update(APP)
        api.put(pod)

    with pytest.raises(derivation.DerivationError) as raised:
        await derive(clients, spec())

    assert raised.value.reason == errors.Reason.CONFLICTING_POD_CONFIGURATION
    assert "kong-postgresql.kong.svc" in raised.value.message
    assert "other-postgresql.kong.svc" in raised.value.message


async def test_konnect_data_planes_fail_at_once_with_their_own_reason(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    for pod in topologies.konnect_data_plane(pod_ips=["127.2.0.1"]):
        api.put(pod)
    labels = topologies.konnect_data_plane(pod_ips=["127.2.0.1"])[0]["metadata"]["labels"]

    with pytest.raises(derivation.DerivationError) as raised:
        await derive(clients, spec(gateway={"selector": {"matchLabels": {"app": labels["app"]}}}))

    assert (raised.value.reason, raised.value.transient) == (errors.Reason.KONNECT_MANAGED, False)


async def test_a_control_plane_s_admin_api_is_forwarded_unless_direct_is_asked_for(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    rendered = topologies.hybrid_control_plane(pod_ips=["127.2.0.1"])
    for pod in rendered:
        api.put(pod)
    api.put(secret("cp-postgresql", {"password": PASSWORD}))
    api.put(secret(topologies.LICENSE_SECRET, {"license": LICENSE}))
    name = rendered[0]["metadata"]["name"]

    auto = await derive(clients, spec())
    direct = await derive(clients, spec(gateway={"adminApi": {"access": "direct"}}))

    # auto: a TLS listener on the pod IP but no CA to check Kong's self-signed certificate.
    assert auto.forwards == {
        name: derivation.Forward(namespace="kong", pod=name, port=8444, scheme="https")
    }
    assert auto.status is not None
    assert auto.status.admin_api == "https localhost:8444 via port-forward (KONG_ADMIN_LISTEN)"
    # direct: the plain listener on the pod IP, before a TLS one nothing can verify.
    assert (direct.forwards, [t.url for t in direct.targets]) == ({}, ["http://127.2.0.1:8001"])
    assert direct.status is not None
    assert direct.status.admin_api == "http <pod IP>:8001 direct (KONG_ADMIN_LISTEN)"


def test_kong_s_listen_format_as_the_charts_render_it() -> None:
    assert kongconf.parse_listen(topologies.LOOPBACK_ADMIN_LISTEN) == [
        kongconf.Listener(address="127.0.0.1", port=8444, ssl=True),
        kongconf.Listener(address="::1", port=8444, ssl=True),
    ]
    assert all(listener.loopback for listener in kongconf.parse_listen("localhost:8001"))
    cluster = kongconf.parse_listen("0.0.0.0:8001, [::]:8001, 0.0.0.0:8444 http2 ssl, ")
    assert [(x.port, x.ssl, x.loopback) for x in cluster] == [
        (8001, False, False),
        (8001, False, False),
        (8444, True, False),
    ]
    assert kongconf.parse_listen("off") == []
    with pytest.raises(kongconf.ListenError):
        kongconf.parse_listen("127.0.0.1 ssl")
    assert kongconf.qualified_host("kong-postgresql", namespace="kong") == (
        "kong-postgresql.kong.svc"
    )
    assert kongconf.qualified_host("10.0.0.7", namespace="kong") == "10.0.0.7"
    assert kongconf.ssl_mode(ssl="on", verify="on") == "verify-full"
