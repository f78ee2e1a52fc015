"""What Kubernetes adds to a pod template: the owner, the generated names, defaults, a status.

No chart renders any of this; the topology builders get it here. A pod gets
the ReplicaSet or Job owner reference, ``pod-template-hash`` or the Job
controller's labels, API-server defaults and a kubelet-reported status (the
``kubernetes`` client's pydantic models require parts of it). What it leaves
out is what nothing here reads: volumes, volume mounts, init containers.
Names, uids and hashes are derived from the arguments, so a fixture is the
same on every run. The container parts every chart shares (ports, HTTP
probes with their API-server defaults) are here too.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from license_report_sandbox.kubeapi.resources import Body

_CREATED = "2026-01-01T00:00:00Z"
_STARTED = "2026-01-01T00:00:05Z"
_FINISHED = "2026-01-01T00:00:40Z"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def uid(*parts: str) -> str:
    return str(uuid.UUID(_digest(*parts)[:32]))


def suffix(*parts: str, length: int) -> str:
    """Like the random suffixes Kubernetes appends (consonants and digits), but stable."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(_digest(*parts), 16)
    return "".join(alphabet[(number >> (5 * i)) % len(alphabet)] for i in range(length))


def _owner(*, kind: str, api_version: str, name: str, namespace: str) -> Body:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid(kind, namespace, name),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _defaulted(container: Body) -> Body:
    """A container as the API server stores it: its defaults filled in."""
    return {
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        **container,
    }


def _container_status(
    container: Body, *, pod: str, running: bool, ready: bool, completed: bool, restarts: int
) -> Body:
    image = str(container["image"])
    state: Body
    if completed:
        state = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": _STARTED,
                "finishedAt": _FINISHED,
                "containerID": f"containerd://{_digest(pod, str(container['name']))}",
            }
        }
    elif running:
        state = {"running": {"startedAt": _STARTED}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    return {
        "name": container["name"],
        "image": f"docker.io/library/{image}" if "/" not in image else f"docker.io/{image}",
        "imageID": f"docker.io/{image.split(':')[0]}@sha256:{_digest(image)}",
        "containerID": f"containerd://{_digest(pod, str(container['name']))}",
        "ready": ready and running and not completed,
        "started": running and not completed,
        "restartCount": restarts,
        "state": state,
    }


def _pod(
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner: Body,
    containers: Sequence[Body],
    restart_policy: str,
    service_account: str,
    ip: str | None,
    node_name: str,
    phase: str = "Running",
    ready: bool = True,
    restarts: int = 0,
    termination_grace: int = 30,
) -> Body:
    """A scheduled pod as the API server returns it, status as the kubelet reports it."""
    running = phase == "Running"
    completed = phase == "Succeeded"
    is_ready = ready and running
    conditions = [
        ("PodReadyToStartContainers", running, None),
        ("Initialized", True, "PodCompleted" if completed else None),
        ("Ready", is_ready, "PodCompleted" if completed else None),
        ("ContainersReady", is_ready, "PodCompleted" if completed else None),
        ("PodScheduled", True, None),
    ]
    status: Body = {
        "phase": phase,
        "qosClass": "BestEffort",
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "startTime": _CREATED,
        "conditions": [
            {
                "type": kind,
                "status": "True" if ok else "False",
                "lastTransitionTime": _CREATED,
                **({"reason": reason} if reason else {}),
            }
            for kind, ok, reason in conditions
        ],
        "containerStatuses": [
            _container_status(
                c, pod=name, running=running, ready=ready, completed=completed, restarts=restarts
            )
            for c in containers
        ],
    }
    if ip is not None:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid("Pod", namespace, name),
            "creationTimestamp": _CREATED,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [owner],
        },
        "spec": {
            "containers": [_defaulted(c) for c in containers],
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": termination_grace,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": service_account,
            "serviceAccount": service_account,
            "schedulerName": "default-scheduler",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "nodeName": node_name,
        },
        "status": status,
    }


def deployment_pods(
    *,
    deployment: str,
    namespace: str,
    labels: Mapping[str, str],
    pod_ips: Sequence[str],
    node_name: str,
    **pod: Any,
) -> list[Body]:
    """One pod per IP, owned by the Deployment's current ReplicaSet and named as it names them."""
    template_hash = suffix("rs", namespace, deployment, length=10)
    replica_set = f"{deployment}-{template_hash}"
    owner = _owner(kind="ReplicaSet", api_version="apps/v1", name=replica_set, namespace=namespace)
    return [
        _pod(
            name=f"{replica_set}-{suffix('pod', namespace, replica_set, ip, length=5)}",
            namespace=namespace,
            labels={**labels, "pod-template-hash": template_hash},
            owner=owner,
            restart_policy="Always",
            ip=ip,
            node_name=node_name,
            **pod,
        )
        for ip in pod_ips
    ]


def job_pod(
    *,
    job: str,
    namespace: str,
    labels: Mapping[str, str],
    ip: str | None,
    node_name: str,
    **pod: Any,
) -> Body:
    """A completed Job pod; the Job controller adds its four labels and the owner."""
    owner = _owner(kind="Job", api_version="batch/v1", name=job, namespace=namespace)
    job_labels = {
        "batch.kubernetes.io/controller-uid": owner["uid"],
        "batch.kubernetes.io/job-name": job,
        "controller-uid": owner["uid"],
        "job-name": job,
    }
    return _pod(
        name=f"{job}-{suffix('job', namespace, job, length=5)}",
        namespace=namespace,
        labels={**labels, **job_labels},
        owner=owner,
        restart_policy="OnFailure",
        phase="Succeeded",
        ready=False,
        ip=ip,
        node_name=node_name,
        **pod,
    )


def http_probe(path: str, port: int | str, *, initial: int = 5, timeout: int = 5) -> Body:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": timeout,
    }


def port(name: str, number: int) -> Body:
    return {"name": name, "containerPort": number, "protocol": "TCP"}
