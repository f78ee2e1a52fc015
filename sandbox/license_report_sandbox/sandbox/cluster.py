"""What the sandbox puts in the emulated cluster, and the simulated gateways behind its Pods.

The objects read like those of a real installation: Kong's chart labels and
port names, Nodes with known cores, the license and datastore password in
Secrets, the CRD generated from the API models (never read from the
repository's ``crds/``, so an installed package works too).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import trustme

from license_report.api import crd, v1alpha1
from license_report_sandbox import demo, kubeapi, seed, topologies
from license_report_sandbox import kong as sim
from license_report_sandbox.sandbox import database, options
from license_report_sandbox.topologies import postgresql

NAMESPACE = "kong"
OPERATOR_NAMESPACE = "license-report"
RELEASE = "sandbox"
REQUEST = "sandbox"
LICENSE_SECRET = topologies.LICENSE_SECRET
#: The port the simulated Kong's Admin API listens on inside every gateway pod (the charts'
#: ``admin_listen`` TLS port): its pod-side end, reached through port-forward.
ADMIN_PORT = 8444
#: The Kong Gateway Operator's DataPlane, and the Secret of the client certificate it keeps
#: for its ControlPlane (as examples/gateway-operator.yaml names them).
DATAPLANE = "dataplane-example"
CLIENT_CERT_SECRET = "controlplane-example-admin-client"  # noqa: S105 -- a Secret's name
#: The machines the pods are spread over, round-robin, and their cores.
MACHINES: tuple[tuple[str, int], ...] = (
    ("sandbox-node-a", 8),
    ("sandbox-node-b", 4),
    ("sandbox-node-c", 2),
)
#: The image a pod of each edition runs, by version (the Kong chart's Enterprise and OSS images).
_IMAGES = {True: "kong/kong-gateway:{version}", False: "kong:{version}"}


def sim_mode(chosen: options.Options) -> sim.Mode:
    if chosen.deployment.uses_datastore:
        return sim.Mode.EE_DB
    return sim.Mode.EE_DBLESS if chosen.enterprise else sim.Mode.OSS_DBLESS


def pod_ips(count: int) -> list[str]:
    """The Pod objects' IPs, from a usual pod CIDR: nothing on this machine answers there, as
    nothing outside a cluster reaches a real pod IP; the Admin API is reached through the
    API server's port-forward to each pod's loopback."""
    return [f"10.244.{index // 250}.{index % 250 + 2}" for index in range(count)]


@dataclasses.dataclass(frozen=True)
class Install:
    """What a topology puts in the cluster, and what the sample request selects."""

    #: Every Pod, as its chart renders it: gateways, migration Jobs, controllers, data planes.
    pods: list[dict[str, Any]]
    #: The gateway pods served by a simulated Kong (their loopback Admin API), in order.
    gateways: list[str]
    #: The sample request's selector: all a user writes.
    selector: dict[str, str]
    #: The release whose PostgreSQL sub-chart (pod, Service, EndpointSlice) is installed.
    postgres_release: str | None = None
    #: A hybrid release's data plane pods (no Admin API, not simulated).
    data_planes: int = 0
    #: The kubernetes.io/tls Secret with the client certificate the gateways' Admin API
    #: requires (the Kong Gateway Operator's), named by the request; None: none required.
    client_cert_secret: str | None = None


#: The Kong chart's gateway pods, as the sample requests select them.
APP_SELECTOR = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}


def render(chosen: options.Options) -> Install:
    """The pods of ``chosen.deployment`` with ``chosen.pods`` gateways (hybrid: one control plane,
    the others data planes), each on one of `MACHINES`."""
    topology, count = chosen.deployment, chosen.pods
    image = _IMAGES[chosen.enterprise].format(version=chosen.version)
    license_secret = LICENSE_SECRET if chosen.enterprise else None
    ips = pod_ips(count + 2)  # the gateways', then a migration or controller pod
    install: Install
    if topology is options.Topology.CHART_DEFAULT:
        rendered = topologies.chart_default(
            pod_ips=ips[:count], image=image, license_secret=license_secret
        )
        install = Install(
            pods=rendered, gateways=_names(rendered[:count]), selector=dict(APP_SELECTOR)
        )
    elif topology is options.Topology.CHART_POSTGRES:
        rendered = topologies.chart_postgres(
            pod_ips=ips[:count], migration_ip=ips[count], image=image, license_secret=license_secret
        )
        install = Install(
            pods=rendered,
            gateways=_names(rendered[:count]),
            selector=dict(APP_SELECTOR),
            postgres_release="kong",
        )
    elif topology is options.Topology.HYBRID:
        control = topologies.hybrid_control_plane(
            pod_ips=ips[:1], migration_ip=ips[count], image=image
        )
        data = topologies.hybrid_data_plane(namespace=NAMESPACE, pod_ips=ips[1:count], image=image)
        install = Install(
            pods=[*control, *data],
            gateways=_names(control[:1]),
            selector=dict(APP_SELECTOR),
            postgres_release="cp",
            data_planes=len(data),
        )
    elif topology is options.Topology.INGRESS_CHART:
        rendered = topologies.ingress_chart(
            gateway_ips=ips[:count], controller_ips=ips[count : count + 1], image=image
        )
        install = Install(
            pods=rendered,
            gateways=_names(rendered[:count]),
            selector={"app.kubernetes.io/name": "gateway"},
        )
    else:
        rendered = topologies.gateway_operator(
            dataplane=DATAPLANE, namespace=NAMESPACE, pod_ips=ips[:count], image=image
        )
        install = Install(
            pods=rendered,
            gateways=_names(rendered),
            selector={"app": DATAPLANE},
            client_cert_secret=CLIENT_CERT_SECRET,
        )
    for index, pod in enumerate(install.pods):
        pod["spec"]["nodeName"] = MACHINES[index % len(MACHINES)][0]
    return install


def _names(pods: list[dict[str, Any]]) -> list[str]:
    return [pod["metadata"]["name"] for pod in pods]


def gateways(
    *,
    chosen: options.Options,
    install: Install,
    addresses: Sequence[str],
    seeded: database.Seeded,
) -> list[sim.SimNode]:
    """One simulated Kong node per gateway pod, on its own loopback address; node ``i`` is
    the seed's node ``i``."""
    mode = sim_mode(chosen)
    version, latency = chosen.version, chosen.latency
    hybrid = chosen.deployment is options.Topology.HYBRID
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
    for index, (pod, address) in enumerate(zip(install.gateways, addresses, strict=False)):
        node_id = seed.node_id(index)
        own = database.counters(definition, node_id=node_id)
        nodes.append(
            sim.SimNode(
                name=pod,
                hostname=pod,
                mode=mode,
                role="control_plane" if hybrid else "traditional",
                version=version,
                address=address,
                node_id=node_id,
                # DB-less: each node counts its own requests and serves the same config.
                counters=own if mode is sim.Mode.EE_DBLESS else {},
                services=definition.services,
                routes=definition.routes,
                consumers=definition.consumers,
                datastore=shared if chosen.deployment.uses_datastore else None,
                total_requests=sum(own.values()),
                fault=sim.Fault(latency=latency),
            )
        )
    return nodes


def _secret(name: str, data: Mapping[str, str], *, kind: str = "Opaque") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": kind,
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def client_certificate(ca: trustme.CA) -> dict[str, str]:
    """A kubernetes.io/tls Secret's data: a client certificate ``ca`` signed, as the Kong
    Gateway Operator issues one for its ControlPlane from the CA its data planes trust."""
    issued = ca.issue_cert("controlplane-example")
    return {
        "tls.crt": b"".join(pem.bytes() for pem in issued.cert_chain_pems).decode(),
        "tls.key": issued.private_key_pem.bytes().decode(),
        "ca.crt": ca.cert_pem.bytes().decode(),
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
    install: Install,
    seeded: database.Seeded,
    ca: trustme.CA,
) -> None:
    """The Pods, each gateway's loopback Admin API (port 8444 inside the pod) the simulated
    node's address, registered with the emulator's pod network: only a port-forward reaches
    it, the pod IP serves nothing. Then the Secrets and Services the install has: the
    license, for PostgreSQL the sub-chart's password Secret, pod, Service and
    EndpointSlice (its port 5432 the sandbox's PostgreSQL), and where the Admin API
    requires one the client certificate ``ca`` signed."""
    for pod in install.pods:
        api.put(pod)
    for name, node in zip(install.gateways, fleet.nodes, strict=True):
        api.pod_network.listen(NAMESPACE, name, {ADMIN_PORT: (node.address, fleet.port)})
    api.put(_secret(LICENSE_SECRET, {"license": demo.DEMO_LICENSE}))
    if install.client_cert_secret is not None:
        api.put(
            _secret(install.client_cert_secret, client_certificate(ca), kind="kubernetes.io/tls")
        )
    if install.postgres_release is not None:
        release = install.postgres_release
        api.put(_secret(f"{release}-postgresql", {"password": seeded.password}))
        postgresql.install(
            api,
            release=release,
            namespace=NAMESPACE,
            pod_ip=pod_ips(len(install.pods) + 1)[-1],
            server=(seeded.host, seeded.port),
        )


def request(*, install: Install) -> dict[str, Any]:
    """The sample LicenseReportRequest: only a selector, everything else derived from the
    pods (their Admin API listeners, datastore, license); and the client certificate's
    Secret where the Admin API requires one, which no pod spec shows."""
    gateway: dict[str, Any] = {"selector": {"matchLabels": dict(install.selector)}}
    if install.client_cert_secret is not None:
        gateway["adminApi"] = {"tls": {"clientCertSecretRef": {"name": install.client_cert_secret}}}
    return {
        "apiVersion": f"{v1alpha1.GROUP}/{v1alpha1.VERSION}",
        "kind": v1alpha1.KIND,
        "metadata": {"name": REQUEST, "namespace": NAMESPACE},
        "spec": {"gateway": gateway},
    }
