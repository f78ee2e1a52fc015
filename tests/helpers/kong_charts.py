"""The Kong chart with its PostgreSQL sub-chart in the emulated cluster, as the operator meets
it: Enterprise gateway pods whose Admin API is their loopback's 127.0.0.1:8444 (simulated
nodes reachable only through port-forward), the Secrets the chart's install has, and
PostgreSQL behind its Service (`topologies.postgresql`)."""

from __future__ import annotations

import datetime
import json
import ssl
from typing import Any

import trustme

from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, topologies
from tests.helpers.cluster import secret

GATEWAY_IPS = ["127.3.1.1", "127.3.1.2"]  # nothing listens there: only a port-forward
PG_POD_IP = "127.3.1.9"
SELECTOR = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}
LICENSE = {"license": {"payload": {"license_key": "PG-KEY"}, "signature": "s", "version": "1"}}
#: What the gateways' own reports show (their view of the tables): not the seed's figures.
OWN_SERVICES = 4


def kong_tls() -> ssl.SSLContext:
    """Kong's per-pod self-signed certificate (CN=localhost): no CA anyone could pin."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)
    return context


def own_counters() -> dict[str, int]:
    return {datetime.datetime.now(datetime.UTC).strftime("%Y-%m"): 7}


def db_nodes() -> list[sim.SimNode]:
    shared = sim.Datastore(counters=own_counters(), services=OWN_SERVICES)
    return [sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared) for i in (0, 1)]


def chart_release(
    api: kubeapi.KubeAPI, running: sim.Fleet, *, password: str
) -> list[dict[str, Any]]:
    """The chart's Enterprise gateway pods (and migration pod), each pod's 127.0.0.1:8444 a
    simulated node; the Secrets the chart's install has."""
    pods = topologies.chart_postgres(
        pod_ips=GATEWAY_IPS,
        image=topologies.ENTERPRISE_IMAGE,
        license_secret=topologies.LICENSE_SECRET,
    )
    gateways = pods[: len(GATEWAY_IPS)]
    for pod in pods:
        api.put(pod)
    for pod, node in zip(gateways, running.nodes, strict=True):
        api.pod_network.listen(
            "kong", pod["metadata"]["name"], {8444: (node.address, running.port)}
        )
    api.put(secret("kong-postgresql", {"password": password}))
    api.put(secret(topologies.LICENSE_SECRET, {"license": json.dumps(LICENSE)}))
    return gateways
