"""What metering reads of a gateway pod, from pods as the Kong chart renders them.

The verdict (is this fleet metered?), the status listener (where its counter is
read) and the kubelet's probes on it (taken out of nginx's total) all come from
the pod spec the chart renders (sandbox topologies, cited from Kong/charts).
"""

from __future__ import annotations

import datetime
from typing import Any

from license_report.api import v1alpha1
from license_report.reconcile import metering
from license_report_sandbox import topologies
from license_report_sandbox.topologies import chart_containers

UTC = datetime.UTC


def _one(pods: list[dict[str, Any]]) -> metering.MeterPod:
    parsed = [metering.parse_pod(pod) for pod in pods]
    gateways = [pod for pod in parsed if pod is not None]
    assert len(gateways) == 1
    return gateways[0]


def _metering(**fields: Any) -> v1alpha1.Metering:
    return v1alpha1.Metering.model_validate(fields)


def test_the_chart_default_enterprise_dbless_fleet_is_metered_on_its_status_listener() -> None:
    pod = _one(
        topologies.chart_default(
            pod_ips=["127.2.0.1"],
            image=topologies.ENTERPRISE_IMAGE,
            license_secret=topologies.LICENSE_SECRET,
        )
    )
    decided = metering.verdict([pod], _metering())
    assert decided.active
    assert "KONG_DATABASE=off" in decided.why
    # KONG_STATUS_LISTEN 0.0.0.0:8100 (the chart's): on the pod IP, plain http, no forward.
    target = metering.status_target(pod, _metering())
    assert target == metering.StatusTarget(url="http://127.2.0.1:8100", port=8100, forward=False)


def test_the_chart_s_oss_image_is_metered_as_kong_oss() -> None:
    pod = _one(topologies.chart_default(pod_ips=["127.2.0.1"], image=chart_containers.OSS_IMAGE))
    assert metering.verdict([pod], _metering()).why == "Kong OSS keeps no license counters"


def test_a_db_mode_fleet_is_not_metered_unless_asked_and_then_cross_checked() -> None:
    pods = [
        pod
        for raw in topologies.chart_postgres(
            pod_ips=["127.2.0.1"], migration_ip="127.2.0.9", image=topologies.ENTERPRISE_IMAGE
        )
        if (pod := metering.parse_pod(raw)) is not None
    ]
    assert len(pods) == 1  # the migration Job's pod is no gateway
    assert not metering.verdict(pods, _metering()).active
    forced = metering.verdict(pods, _metering(enabled=True))
    assert forced.active
    assert "compares" in forced.why
    assert not metering.verdict(pods, _metering(enabled=False)).active


def test_hybrid_data_planes_are_metered_only_without_telemetry() -> None:
    planes = [
        pod
        for raw in topologies.hybrid_data_plane(pod_ips=["127.2.0.5"])
        if (pod := metering.parse_pod(raw)) is not None
    ]
    # The chart example sends telemetry to the control plane: Kong keeps the counts.
    assert planes[0].env.get("KONG_CLUSTER_TELEMETRY_ENDPOINT")
    assert not metering.verdict(planes, _metering()).active
    silent = [
        metering.MeterPod(
            **{**vars(planes[0]), "env": {**planes[0].env, "KONG_CLUSTER_TELEMETRY_ENDPOINT": ""}}
        )
    ]
    assert "data plane" in metering.verdict(silent, _metering()).why


def test_a_loopback_status_listener_is_reached_through_port_forward() -> None:
    pod = _one(topologies.chart_default(pod_ips=["127.2.0.1"]))
    loopback = metering.MeterPod(
        **{**vars(pod), "env": {**pod.env, "KONG_STATUS_LISTEN": "127.0.0.1:8100 ssl"}}
    )
    target = metering.status_target(loopback, _metering())
    assert isinstance(target, metering.StatusTarget)
    assert target.forward
    assert target.url == f"https://{pod.pod}.kong.portforward.invalid:8100"


def test_the_spec_names_the_port_when_the_env_does_not() -> None:
    pod = _one(topologies.chart_default(pod_ips=["127.2.0.1"]))
    unset = metering.MeterPod(**{**vars(pod), "env": {}, "ports": {}})
    assert "statusPort" in str(metering.status_target(unset, _metering()))
    target = metering.status_target(unset, _metering(statusPort=9100, statusScheme="https"))
    assert target == metering.StatusTarget(url="https://127.2.0.1:9100", port=9100, forward=False)
    off = metering.MeterPod(**{**vars(pod), "env": {"KONG_STATUS_LISTEN": "off"}})
    assert "off" in str(metering.status_target(off, _metering()))


def test_the_chart_s_probes_are_counted_from_the_container_start() -> None:
    pod = _one(topologies.chart_default(pod_ips=["127.2.0.1"]))
    started = pod.container_started
    assert started is not None
    # Readiness and liveness on port "status", 5 s initial delay, every 10 s.
    assert [(target, probe.period) for target, probe in pod.probes] == [
        ("status", 10),
        ("status", 10),
    ]
    at = started + datetime.timedelta(seconds=4)
    assert metering.probes_since(pod, port=8100, at=at) == 0
    at = started + datetime.timedelta(seconds=5)
    assert metering.probes_since(pod, port=8100, at=at) == 2
    # An hour: (3600 - 5) // 10 + 1 = 360 each, 12 a minute as docs/metering.md says.
    at = started + datetime.timedelta(hours=1)
    assert metering.probes_since(pod, port=8100, at=at) == 720
    # Probes on another port are not the status listener's.
    assert metering.probes_since(pod, port=8000, at=at) == 0
