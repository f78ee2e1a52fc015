"""Only gateway pods are asked: pods as the charts render them, rollouts, split namespaces.

A selector on the Kong chart's ``name`` and ``instance`` labels also matches the
migration Job pods; a rollout shows pods leaving and pods not started yet. None
of them may make a report Degraded: they are skipped, counted and named.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from license_report.api import v1alpha1
from license_report.reconcile import discovery, kube
from license_report_sandbox import kubeapi, topologies

CHART_LABELS = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "kong"}


def gateway(labels: dict[str, str], **fields: Any) -> v1alpha1.Gateway:
    return v1alpha1.Gateway.model_validate({"selector": {"matchLabels": labels}, **fields})


async def test_the_chart_s_migration_job_pod_is_skipped_not_a_failure(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    rendered = topologies.chart_postgres(
        pod_ips=["127.2.0.1", "127.2.0.2"], migration_ip="127.2.0.9"
    )
    for pod in rendered:
        api.put(pod)
    migration = rendered[-1]["metadata"]["name"]

    found = await discovery.discover(
        clients=clients, namespace="kong", gateway=gateway(CHART_LABELS)
    )

    assert sorted(t.name for t in found.targets) == sorted(
        p["metadata"]["name"] for p in rendered[:-1]
    )
    assert found.failures == []
    assert [(s.pod, s.why) for s in found.skipped] == [
        (migration, "owned by Job kong-kong-init-migrations (a migration, not a gateway)")
    ]
    assert found.pods == 2
    (note,) = found.notes
    assert note.startswith("1 matched pods are not gateway pods")
    assert migration in note


async def test_hybrid_planes_in_two_namespaces_are_found_with_one_selector(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    api.put(kubeapi.make_namespace("kong-dp"))
    control = topologies.hybrid_control_plane(pod_ips=["127.2.0.1"], migration_ip="127.2.0.9")
    data = topologies.hybrid_data_plane(pod_ips=["127.2.1.1", "127.2.1.2"])
    for pod in [*control, *data]:
        api.put(pod)
    selector = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app"}

    found = await discovery.discover(
        clients=clients,
        namespace="elsewhere",
        gateway=gateway(selector, namespaces=["kong", "kong-dp"]),
    )

    assert [t.name for t in found.targets] == [f"kong/{control[0]['metadata']['name']}"]
    assert sorted(p.pod for p in found.data_planes) == sorted(
        f"kong-dp/{p['metadata']['name']}" for p in data
    )
    assert found.failures == []
    # The migration pod's component is init-migrations: the selector leaves it out.
    assert found.skipped == []
    assert found.pods == 3


def _pod(name: str, **fields: Any) -> dict[str, Any]:
    return kubeapi.make_pod(name, "kong", labels=CHART_LABELS, **fields)


async def test_a_rollout_s_leaving_and_unstarted_pods_do_not_degrade_the_report(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    api.put(_pod("serving", ip="127.2.0.1"))
    api.put(_pod("starting", ip=None, phase="Pending", ready=False))
    api.put(_pod("finished", ip=None, phase="Succeeded", ready=False))
    api.put(_pod("crashed", ip=None, phase="Failed", ready=False))
    api.put(_pod("warming-up", ip="127.2.0.5", ready=False))  # Running, not Ready: a failure
    for name, ready in (("draining", True), ("drained", False)):
        leaving = _pod(name, ip="127.2.0.3" if ready else "127.2.0.4", ready=ready)
        leaving["metadata"]["finalizers"] = ["example.com/hold"]
        api.put(leaving)
        api.delete("v1", "Pod", name, "kong")  # deletionTimestamp set, held by the finalizer

    found = await discovery.discover(
        clients=clients, namespace="kong", gateway=gateway(CHART_LABELS)
    )

    assert [t.name for t in found.targets] == ["draining", "serving"]
    assert [(f.pod, f.reason) for f in found.failures] == [("warming-up", "NotReady")]
    assert {s.pod: s.why for s in found.skipped} == {
        "crashed": "completed (Failed)",
        "drained": "terminating, no longer Ready",
        "finished": "completed (Succeeded)",
        "starting": "not started yet (Pending, no IP)",
    }


@pytest.mark.parametrize(
    ("container", "image", "env", "kong"),
    [
        ("proxy", "example.com/my-build:1", {}, True),
        ("gateway", "example.com/my-build:1", {"KONG_ADMIN_LISTEN": "0.0.0.0:8001"}, True),
        ("gateway", "registry.example.com:5000/kong/kong-gateway:3.4", {}, True),
        ("gateway", "kong:3.9@sha256:" + "0" * 64, {}, True),
        ("ingress-controller", "kong/kubernetes-ingress-controller:3.5", {}, False),
        ("sidecar", "example.com/kong-exporter:1", {"KONG_URL": "x"}, False),
    ],
)
async def test_a_pod_without_a_kong_container_is_skipped(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    container: str,
    image: str,
    env: dict[str, str],
    kong: bool,
) -> None:
    pod = _pod("p", ip="127.2.0.1", container=container, image=image)
    pod["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    api.put(pod)

    found = await discovery.discover(
        clients=clients, namespace="kong", gateway=gateway(CHART_LABELS)
    )

    assert [t.name for t in found.targets] == (["p"] if kong else [])
    assert [s.why for s in found.skipped] == ([] if kong else ["no Kong Gateway container"])


def test_namespace_and_namespaces_together_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="namespace or namespaces, not both"):
        gateway(CHART_LABELS, namespace="kong", namespaces=["kong"])
