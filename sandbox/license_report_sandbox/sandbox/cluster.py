"""What the sandbox puts in the emulated cluster, and the simulated gateways behind its Pods.

The objects read like those of a real installation: Kong's chart labels and
port names, Nodes with known cores, the license and datastore password in
Secrets, the CRD generated from the API models (never read from the
repository's ``crds/``, so an installed package works too).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from license_report.api import crd, v1alpha1
from license_report_sandbox import demo, kubeapi, seed
from license_report_sandbox import kong as sim
from license_report_sandbox.sandbox import database, options

NAMESPACE = "kong"
OPERATOR_NAMESPACE = "license-report"
RELEASE = "sandbox"
LABELS = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": RELEASE}
REQUEST = "sandbox"
PASSWORD_SECRET = "kong-postgres"  # noqa: S105 (a Secret's name)
LICENSE_SECRET = "kong-enterprise-license"  # noqa: S105
#: The machines the pods are spread over, round-robin, and their cores.
MACHINES: tuple[tuple[str, int], ...] = (
    ("sandbox-node-a", 8),
    ("sandbox-node-b", 4),
    ("sandbox-node-c", 2),
)
_SIM_MODES = {
    options.Mode.EE_DB: sim.Mode.EE_DB,
    options.Mode.EE_DBLESS: sim.Mode.EE_DBLESS,
    options.Mode.OSS: sim.Mode.OSS_DBLESS,
}
#: The image a pod of each edition runs, by version (the Kong chart's Enterprise and OSS images).
_IMAGES = {True: "kong/kong-gateway:{version}", False: "kong:{version}"}


def gateways(
    *,
    mode: options.Mode,
    version: str,
    addresses: Sequence[str],
    seeded: database.Seeded,
    latency: float,
) -> list[sim.SimNode]:
    """One simulated Kong node per pod; node ``i`` is the seed's node ``i``."""
    definition = seeded.seed
    shared = sim.Datastore(
        counters=database.counters(definition),
        services=definition.services,
        routes=definition.routes,
        consumers=definition.consumers,
        workspaces=1 + len(definition.workspaces),
        rbac_users=definition.rbac_users,
        db_version=seeded.db_version,
        cluster_id=RELEASE,
    )
    nodes = []
    for index, address in enumerate(addresses):
        node_id = seed.node_id(index)
        own = database.counters(definition, node_id=node_id)
        nodes.append(
            sim.SimNode(
                name=f"{RELEASE}-kong-{index}",
                mode=_SIM_MODES[mode],
                version=version,
                address=address,
                node_id=node_id,
                # DB-less: each node counts its own requests and serves the same config.
                counters=own if mode is options.Mode.EE_DBLESS else {},
                services=definition.services,
                routes=definition.routes,
                consumers=definition.consumers,
                datastore=shared if mode.uses_datastore else None,
                total_requests=sum(own.values()),
                fault=sim.Fault(latency=latency),
            )
        )
    return nodes


def _secret(name: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def prepare(api: kubeapi.KubeAPI) -> None:
    """What exists before the gateways: the CRD, the namespaces, the machines."""
    api.register_crd(crd.definition())
    for namespace in (NAMESPACE, OPERATOR_NAMESPACE):
        api.put(kubeapi.make_namespace(namespace))
    for index, (machine, cores) in enumerate(MACHINES):
        api.put(kubeapi.make_node(machine, cpu=cores, address=f"10.0.0.{10 + index}"))


def deploy(
    api: kubeapi.KubeAPI,
    *,
    fleet: sim.Fleet,
    mode: options.Mode,
    version: str,
    seeded: database.Seeded,
) -> None:
    """The gateways as Pods (IP: the simulator's address, port ``admin``: the fleet's) and
    the Secrets a request names."""
    ports = [
        (name, fleet.port if name == "admin" else number) for name, number in kubeapi.KONG_PORTS
    ]
    for index, node in enumerate(fleet.nodes):
        api.put(
            kubeapi.make_pod(
                node.name,
                NAMESPACE,
                labels=LABELS,
                ip=node.address,
                node_name=MACHINES[index % len(MACHINES)][0],
                ports=ports,
                image=_IMAGES[mode.enterprise].format(version=version),
            )
        )
    api.put(_secret(PASSWORD_SECRET, {"password": seeded.password}))
    api.put(_secret(LICENSE_SECRET, {"license": demo.DEMO_LICENSE}))


def request(*, mode: options.Mode, seeded: database.Seeded) -> dict[str, Any]:
    """The sample LicenseReportRequest, as a user would write it for this cluster."""
    spec: dict[str, Any] = {
        # No report options: the shape and window follow the fleet's Kong version (auto).
        "gateway": {"selector": {"matchLabels": dict(LABELS)}, "adminApi": {"portName": "admin"}},
    }
    if mode.enterprise:
        spec["license"] = {"secretRef": {"name": LICENSE_SECRET, "key": "license"}}
    if mode.uses_datastore:
        spec["datastore"] = {
            "postgres": {
                "host": seeded.host,
                "port": seeded.port,
                "database": database.DATABASE,
                "user": database.USER,
                "passwordSecretRef": {"name": PASSWORD_SECRET, "key": "password"},
                "sslMode": "disable",
            }
        }
    return {
        "apiVersion": f"{v1alpha1.GROUP}/{v1alpha1.VERSION}",
        "kind": v1alpha1.KIND,
        "metadata": {"name": REQUEST, "namespace": NAMESPACE},
        "spec": spec,
    }
