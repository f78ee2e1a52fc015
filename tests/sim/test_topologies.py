"""The topology fixtures against facts read from the renders, not from the fixtures.

Every expected value below is copied from Kong/charts e76b8003
(``charts/kong/ci/__snapshots__/default-values.snap``, ``test5-values.snap``,
``charts/ingress/ci/__snapshots__/gateway-discovery-values.snap``, the chart's
``example-values/minimal-kong-enterprise-hybrid-*.yaml`` rendered) or from
Kong/kong-operator cefc38421 (``internal/utils/config/dataplane.go``,
``pkg/utils/kubernetes/resources/deployments.go``), as docs/kong-topologies.md
lists them. The last tests load the pods into the emulator and read them back
through the ``kubernetes`` client, whose models validate them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import kubernetes.client
import pytest

from license_report_sandbox import kubeapi, topologies

Pod = Mapping[str, Any]


def container(pod: Pod, name: str = "proxy") -> Mapping[str, Any]:
    found = [c for c in pod["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"{pod['metadata']['name']} has no single container {name!r}"
    result: Mapping[str, Any] = found[0]
    return result


def env(pod: Pod, name: str = "proxy") -> dict[str, Any]:
    """The container's env as name -> value, or name -> valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(pod, name)["env"]}


def ports(pod: Pod) -> dict[str, int]:
    return {
        p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])
    }


def component(pods: Sequence[Pod], value: str) -> list[Pod]:
    return [p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/component") == value]


# --- (a) Kong chart defaults (default-values.snap) ---------------------------------------------


def test_chart_default_pod_has_no_admin_port_and_binds_the_admin_api_to_loopback() -> None:
    pods = topologies.chart_default(pod_ips=["127.0.0.2", "127.0.0.3"])
    assert len(pods) == 2
    for pod in pods:
        assert [c["name"] for c in pod["spec"]["containers"]] == ["ingress-controller", "proxy"]
        assert ports(pod) == {
            "webhook": 8080,
            "cmetrics": 10255,
            "cstatus": 10254,
            "proxy": 8000,
            "proxy-tls": 8443,
            "status": 8100,
        }
        assert env(pod)["KONG_ADMIN_LISTEN"] == "127.0.0.1:8444 http2 ssl, [::1]:8444 http2 ssl"
        assert env(pod)["KONG_STATUS_LISTEN"] == "0.0.0.0:8100, [::]:8100"
        assert env(pod)["KONG_DATABASE"] == "off"
        assert env(pod, "ingress-controller")["CONTROLLER_KONG_ADMIN_URL"] == (
            "https://localhost:8444"
        )
        assert container(pod)["image"] == "kong:3.9"
        assert container(pod)["readinessProbe"]["httpGet"] == {
            "path": "/status/ready",
            "port": "status",
            "scheme": "HTTP",
        }


def test_chart_default_enterprise_reads_the_license_from_the_secret() -> None:
    (pod,) = topologies.chart_default(
        pod_ips=["127.0.0.2"], image="kong/kong-gateway:3.5", license_secret="my-license"
    )
    assert env(pod)["KONG_LICENSE_DATA"] == {
        "secretKeyRef": {"name": "my-license", "key": "license"}
    }
    assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == "3.5"
    assert "KONG_PASSWORD" not in env(pod)


def test_chart_pods_carry_the_charts_labels_and_a_replica_set_owner() -> None:
    (pod,) = topologies.chart_default(release="edge", namespace="gw", pod_ips=["127.0.0.2"])
    labels = pod["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k != "pod-template-hash"} == {
        "app": "edge-kong",
        "app.kubernetes.io/component": "app",
        "app.kubernetes.io/instance": "edge",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": "kong",
        "app.kubernetes.io/version": "3.9",
        "helm.sh/chart": "kong-3.4.1",
        "version": "3.9",
    }
    (owner,) = pod["metadata"]["ownerReferences"]
    assert owner["kind"] == "ReplicaSet"
    assert owner["name"] == f"edge-kong-{labels['pod-template-hash']}"
    assert pod["metadata"]["name"].startswith(owner["name"] + "-")
    assert pod["spec"]["serviceAccountName"] == "edge-kong"
    assert pod["status"]["podIP"] == "127.0.0.2"


# --- (b) with the PostgreSQL sub-chart (test5-values.snap) -------------------------------------


def test_chart_postgres_points_at_the_sub_charts_service_and_secret() -> None:
    pods = topologies.chart_postgres(release="edge", pod_ips=["127.0.0.2"])
    (gateway,) = component(pods, "app")
    values = env(gateway)
    assert values["KONG_DATABASE"] == "postgres"
    assert values["KONG_PG_HOST"] == "edge-postgresql"
    assert values["KONG_PG_PORT"] == "5432"
    assert values["KONG_PG_PASSWORD"] == {
        "secretKeyRef": {"name": "edge-postgresql", "key": "password"}
    }
    for unset in ("KONG_PG_USER", "KONG_PG_DATABASE", "KONG_PG_SSL", "KONG_PG_SSL_VERIFY"):
        assert unset not in values
    assert values["KONG_ADMIN_LISTEN"] == "127.0.0.1:8444 http2 ssl, [::1]:8444 http2 ssl"


def test_the_migration_pod_is_a_completed_job_pod_that_name_and_instance_match() -> None:
    pods = topologies.chart_postgres(release="edge", pod_ips=["127.0.0.2"])
    (migration,) = component(pods, "init-migrations")
    (owner,) = migration["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("Job", "edge-kong-init-migrations")
    assert migration["spec"]["restartPolicy"] == "OnFailure"
    assert migration["status"]["phase"] == "Succeeded"
    assert container(migration, "kong-migrations")["args"] == ["kong", "migrations", "bootstrap"]
    ready = {c["type"]: c["status"] for c in migration["status"]["conditions"]}["Ready"]
    assert ready == "False"
    selector = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "edge"}
    matched = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
    assert matched == pods


# --- (c) hybrid (minimal-kong-enterprise-hybrid-control.yaml / -data.yaml) ---------------------


def test_hybrid_control_plane_serves_the_admin_api_on_all_addresses() -> None:
    (cp, migration) = topologies.hybrid_control_plane(pod_ips=["127.0.0.2"])
    values = env(cp)
    assert values["KONG_ROLE"] == "control_plane"
    assert values["KONG_DATABASE"] == "postgres"
    assert values["KONG_ADMIN_LISTEN"] == (
        "0.0.0.0:8001, [::]:8001, 0.0.0.0:8444 http2 ssl, [::]:8444 http2 ssl"
    )
    assert ports(cp)["admin"] == 8001
    assert ports(cp)["admin-tls"] == 8444
    assert ports(cp)["clustert-tls"] == 8006
    assert "proxy" not in ports(cp)
    assert migration["metadata"]["ownerReferences"][0]["kind"] == "Job"


def test_hybrid_data_plane_has_no_database_and_points_at_the_control_plane() -> None:
    (dp,) = topologies.hybrid_data_plane(pod_ips=["127.0.0.3"])
    (cp, _) = topologies.hybrid_control_plane(pod_ips=["127.0.0.2"])
    values = env(dp)
    assert values["KONG_ROLE"] == "data_plane"
    assert values["KONG_DATABASE"] == "off"
    assert values["KONG_ADMIN_LISTEN"] == "127.0.0.1:8444 http2 ssl, [::1]:8444 http2 ssl"
    assert values["KONG_CLUSTER_CONTROL_PLANE"].endswith(":8005")
    assert values["KONG_CLUSTER_TELEMETRY_ENDPOINT"].endswith(":8006")
    assert not any(key.startswith("KONG_PG_") for key in values)
    for key in ("app.kubernetes.io/name", "app.kubernetes.io/component"):
        assert dp["metadata"]["labels"][key] == cp["metadata"]["labels"][key]
    instance = "app.kubernetes.io/instance"
    assert dp["metadata"]["labels"][instance] != cp["metadata"]["labels"][instance]


# --- (d) kong/ingress chart (gateway-discovery-values.snap) ------------------------------------


def test_ingress_chart_gateways_expose_admin_tls_and_controllers_run_apart() -> None:
    pods = topologies.ingress_chart(
        release="edge", gateway_ips=["127.0.0.2"], controller_ips=["127.0.0.3"]
    )
    by_name = {p["metadata"]["labels"]["app.kubernetes.io/name"]: p for p in pods}
    gateway, controller = by_name["gateway"], by_name["controller"]
    assert ports(gateway)["admin-tls"] == 8444
    assert env(gateway)["KONG_ADMIN_LISTEN"] == "0.0.0.0:8444 http2 ssl, [::]:8444 http2 ssl"
    assert env(gateway)["KONG_ROLE"] == "traditional"
    assert env(gateway)["KONG_DATABASE"] == "off"
    assert "KONG_NGINX_ADMIN_SSL_VERIFY_CLIENT" not in env(gateway)
    assert [c["name"] for c in controller["spec"]["containers"]] == ["ingress-controller"]
    assert env(controller, "ingress-controller")["CONTROLLER_KONG_ADMIN_SVC"] == (
        "kong/edge-gateway-admin"
    )


# --- (e, f) Kong Gateway Operator DataPlane and Konnect -----------------------------------------


def test_gateway_operator_dataplane_requires_a_client_certificate() -> None:
    (pod,) = topologies.gateway_operator(dataplane="dp1", pod_ips=["127.0.0.2"], selector="abc")
    labels = dict(pod["metadata"]["labels"])
    labels.pop("pod-template-hash")
    assert labels == {"app": "dp1", "gateway-operator.konghq.com/selector": "abc"}
    assert ports(pod) == {"proxy": 8000, "proxy-ssl": 8443, "metrics": 8100, "admin-ssl": 8444}
    values = env(pod)
    assert values["KONG_ADMIN_LISTEN"] == "0.0.0.0:8444 ssl reuseport backlog=16384"
    assert values["KONG_NGINX_ADMIN_SSL_VERIFY_CLIENT"] == "on"
    assert values["KONG_STATUS_LISTEN"] == "0.0.0.0:8100"
    assert values["KONG_DATABASE"] == "off"
    assert "KONG_ROLE" not in values
    assert pod["metadata"]["name"].startswith("dataplane-dp1-")


def test_konnect_data_plane_says_its_usage_lives_in_konnect() -> None:
    (pod,) = topologies.konnect_data_plane(pod_ips=["127.0.0.2"])
    values = env(pod)
    assert values["KONG_ROLE"] == "data_plane"
    assert values["KONG_KONNECT_MODE"] == "on"
    assert values["KONG_CLUSTER_CONTROL_PLANE"].endswith(":443")


# --- in the emulator, through the real client ---------------------------------------------------


def every_topology() -> list[Pod]:
    return [
        *topologies.chart_default(release="a", pod_ips=["127.0.0.2"]),
        *topologies.chart_postgres(
            release="b",
            pod_ips=["127.0.0.3", "127.0.0.4"],
            license_secret="kong-enterprise-license",
            image=topologies.ENTERPRISE_IMAGE,
        ),
        *topologies.hybrid_control_plane(release="cp", namespace="kong", pod_ips=["127.0.0.5"]),
        *topologies.hybrid_data_plane(release="dp", namespace="kong", pod_ips=["127.0.0.6"]),
        *topologies.ingress_chart(
            release="c", gateway_ips=["127.0.0.7"], controller_ips=["127.0.0.8"]
        ),
        *topologies.gateway_operator(dataplane="d", pod_ips=["127.0.0.9"]),
        *topologies.konnect_data_plane(dataplane="e", pod_ips=["127.0.0.10"]),
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # A selector on name + instance also matches the completed migration pod.
        ("app.kubernetes.io/name=kong,app.kubernetes.io/instance=b", 3),
        (
            "app.kubernetes.io/name=kong,app.kubernetes.io/instance=b,app.kubernetes.io/component=app",
            2,
        ),
        ("app.kubernetes.io/name=kong,app.kubernetes.io/component=app", 5),
        ("app.kubernetes.io/name=gateway", 1),
        ("app=d", 1),
        ("gateway-operator.konghq.com/selector", 2),
    ],
)
async def test_topologies_load_into_the_emulator_and_list_by_selector(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api, selector: str, expected: int
) -> None:
    for pod in every_topology():
        cluster.put(pod)
    found = await asyncio.to_thread(core.list_namespaced_pod, "kong", label_selector=selector)
    assert len(found.items) == expected


async def test_the_client_reads_owners_env_refs_and_restart_counts(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    for pod in every_topology():
        cluster.put(pod)
    found = await asyncio.to_thread(
        core.list_namespaced_pod, "kong", label_selector="app.kubernetes.io/instance=b"
    )
    items: list[Any] = found.items  # V1Pod; the client's Optional fields are all set here
    owners = sorted(p.metadata.owner_references[0].kind for p in items)
    assert owners == ["Job", "ReplicaSet", "ReplicaSet"]
    for item in items:
        (proxy,) = [c for c in item.spec.containers if c.name in ("proxy", "kong-migrations")]
        license_ref = {e.name: e for e in proxy.env}["KONG_LICENSE_DATA"].value_from
        assert license_ref.secret_key_ref.name == "kong-enterprise-license"
        assert all(s.restart_count == 0 for s in item.status.container_statuses)
        assert item.status.start_time is not None
