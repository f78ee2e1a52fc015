"""Realistic object bodies for the emulated cluster: nodes, Kong gateway pods, namespaces, CRDs.

The ``kubernetes`` client (v37) validates what it reads with pydantic, so a
Node or Pod must carry every field the client requires (a Node's
``status.nodeInfo`` has ten required strings). These builders produce what a
kubelet would report, so that simulated Kong pods, whose ``status.podIP`` is a
loopback address where a Kong simulator listens, read like real ones.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from license_report_sandbox.kubeapi.resources import Body

#: Container ports as Kong's Helm chart names them.
KONG_PORTS: tuple[tuple[str, int], ...] = (
    ("proxy", 8000),
    ("proxy-tls", 8443),
    ("admin", 8001),
    ("admin-tls", 8444),
    ("status", 8100),
)
_CREATED = "2026-01-01T00:00:00Z"


def _stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


def make_node(
    name: str,
    *,
    cpu: int | str = 4,
    memory: str = "16Gi",
    os: str = "linux",
    arch: str = "amd64",
    address: str = "10.0.0.10",
    labels: Mapping[str, str] | None = None,
    kubelet_version: str = "v1.33.0",
    kernel_version: str = "6.8.0-1017-aws",
    os_image: str = "Ubuntu 24.04.1 LTS",
    ready: bool = True,
) -> Body:
    """A Node as a kubelet registers it; ``cpu`` is the capacity (``4`` or ``"3500m"``)."""
    cpu_text = str(cpu)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": os,
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": os,
                "beta.kubernetes.io/arch": arch,
                **(labels or {}),
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {
            "capacity": {
                "cpu": cpu_text,
                "memory": memory,
                "pods": "110",
                "ephemeral-storage": "100Gi",
            },
            "allocatable": {
                "cpu": cpu_text,
                "memory": memory,
                "pods": "110",
                "ephemeral-storage": "95Gi",
            },
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status"
                    if ready
                    else "container runtime is down",
                    "lastHeartbeatTime": _CREATED,
                    "lastTransitionTime": _CREATED,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
                "systemUUID": _stable_uuid("system", name),
                "bootID": _stable_uuid("boot", name),
                "kernelVersion": kernel_version,
                "osImage": os_image,
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": os,
                "architecture": arch,
            },
        },
    }


def make_pod(
    name: str,
    namespace: str,
    *,
    labels: Mapping[str, str] | None = None,
    ip: str | None = None,
    node_name: str | None = None,
    ready: bool = True,
    phase: str = "Running",
    ports: Sequence[tuple[str, int]] = KONG_PORTS,
    image: str = "kong/kong-gateway:3.4.3.12",
    container: str = "proxy",
    annotations: Mapping[str, str] | None = None,
) -> Body:
    """A scheduled pod as the kubelet reports it: one container with named ports.

    The defaults describe a Kong gateway pod of the Kong chart (container
    ``proxy``, ports ``proxy``, ``admin`` 8001, ``admin-tls`` 8444, ``status``
    8100). ``ip`` becomes ``status.podIP``: a 127.0.0.x address lets the pod be
    reached where a Kong simulator listens.
    """
    running = phase == "Running"
    status: Body = {
        "phase": phase,
        "qosClass": "Burstable",
        "conditions": [
            {"type": condition, "status": "True" if ok else "False", "lastTransitionTime": _CREATED}
            for condition, ok in (
                ("PodReadyToStartContainers", running),
                ("Initialized", True),
                ("Ready", ready and running),
                ("ContainersReady", ready and running),
                ("PodScheduled", node_name is not None),
            )
        ],
        "containerStatuses": [
            {
                "name": container,
                "image": image,
                "imageID": f"docker.io/{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                "containerID": f"containerd://{hashlib.sha256(name.encode()).hexdigest()}",
                "ready": ready and running,
                "started": running,
                "restartCount": 0,
                "state": {"running": {"startedAt": _CREATED}}
                if running
                else {"waiting": {"reason": "ContainerCreating"}},
            }
        ],
    }
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
        status["hostIP"] = ip
        status["hostIPs"] = [{"ip": ip}]
    if running:
        status["startTime"] = _CREATED
    spec: Body = {
        "containers": [
            {
                "name": container,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [
                    {"name": port_name, "containerPort": number, "protocol": "TCP"}
                    for port_name, number in ports
                ],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
    }
    if node_name is not None:
        spec["nodeName"] = node_name
    metadata: Body = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def make_service(
    name: str,
    namespace: str,
    *,
    selector: Mapping[str, str],
    ports: Sequence[tuple[str, int, int | str]],
    cluster_ip: str = "10.96.0.10",
    labels: Mapping[str, str] | None = None,
) -> Body:
    """A ClusterIP Service as the API server stores it: ``ports`` are (name, port, targetPort).

    ``cluster_ip`` is only shown: nothing here routes to it, as nothing outside a
    cluster reaches a real ClusterIP. Pair it with `make_endpoint_slice`, which
    plays the EndpointSlice controller.
    """
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [
                {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
                for port_name, port, target in ports
            ],
        },
        "status": {"loadBalancer": {}},
    }


def make_endpoint_slice(
    service: Mapping[str, Any],
    *,
    endpoints: Sequence[tuple[str, str, bool]],
    ports: Sequence[tuple[str, int]] | None = None,
    node_name: str = "node-1",
) -> Body:
    """An EndpointSlice as the EndpointSlice controller writes it for ``service`` (a Service body;
    the one `KubeAPI.put` answers carries the uid, so the slice is collected with it).

    ``endpoints`` are (pod name, pod IP, ready), each with a ``targetRef`` to its
    Pod. ``ports`` are (the Service port's name, the pod's port): the targetPort
    resolved as the controller resolves it against the pods' container ports; by
    default the Service's ports, when every targetPort is a number. The label
    ``kubernetes.io/service-name`` is how clients find a Service's slices.
    """
    meta = service["metadata"]
    name, namespace = str(meta["name"]), str(meta["namespace"])
    if ports is None:
        ports = []
        for port in service["spec"].get("ports") or ():
            target = port.get("targetPort") or port["port"]
            if isinstance(target, str):
                raise ValueError(f"targetPort {target!r} is a pod port's name: give `ports`")
            ports.append((str(port.get("name") or ""), int(target)))
    metadata: Body = {
        "name": f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:5]}",
        "namespace": namespace,
        "labels": {
            "kubernetes.io/service-name": name,
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
    }
    if meta.get("uid"):
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": name,
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
                "nodeName": node_name,
                # The controller also sets the Pod's uid; unknown here, and read by no client.
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod},
            }
            for pod, ip, ready in endpoints
        ],
        "ports": [
            {"name": port_name, "port": port, "protocol": "TCP"} for port_name, port in ports
        ],
    }


def make_namespace(name: str, *, labels: Mapping[str, str] | None = None) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
        },
    }


def make_crd(
    *,
    group: str,
    kind: str,
    plural: str,
    versions: Sequence[str] = ("v1",),
    short_names: Sequence[str] = (),
    categories: Sequence[str] = (),
    namespaced: bool = True,
    status: bool = True,
    columns: Sequence[Mapping[str, object]] = (),
) -> Body:
    """A minimal CustomResourceDefinition (v1): open schemas, the first version stored."""
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    names: Body = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": index == 0,
                    "schema": {"openAPIV3Schema": schema},
                    **({"subresources": {"status": {}}} if status else {}),
                    **({"additionalPrinterColumns": [dict(c) for c in columns]} if columns else {}),
                }
                for index, version in enumerate(versions)
            ],
        },
    }
