"""The operator's Prometheus metrics in the chart: the flag and the named container port,
the metrics Service, the optional ServiceMonitor, and the values that turn them on and off."""

from __future__ import annotations

from typing import Any

import pytest

from license_report.cli import main as cli
from license_report.cli import run as run_command
from tests.helpers import chart

MONITOR = chart.VALUE_SETS["everything-set"]["metrics"]


def _address(values: dict[str, Any]) -> run_command.Address | None:
    """``--metrics-address`` as `license-report run` parses the container's args."""
    args = chart.container(chart.render(values))["args"]
    address: run_command.Address | None = cli.parser().parse_args(["run", *args]).metrics_address
    return address


def _ports(values: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in chart.container(chart.render(values))["ports"]}


def test_metrics_are_served_on_a_named_port_behind_a_service_by_default() -> None:
    manifests = chart.render()
    assert _address({}) == run_command.Address(host="0.0.0.0", port=8081)  # noqa: S104
    assert _ports({}) == {"health": 8080, "metrics": 8081}
    service = chart.one(manifests, "Service")
    assert service["metadata"]["name"] == "lro-license-report-operator-metrics"
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}
    ]
    # The Service picks exactly the operator's pods.
    deployment = chart.one(manifests, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not chart.find(manifests, "ServiceMonitor")


def test_the_port_value_moves_the_flag_the_container_port_and_the_service() -> None:
    values = {"metrics": {"port": 9102}}
    assert _address(values) == run_command.Address(host="0.0.0.0", port=9102)  # noqa: S104
    assert _ports(values)["metrics"] == 9102
    (port,) = chart.one(chart.render(values), "Service")["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (9102, "metrics")


def test_disabled_metrics_are_not_served_and_have_no_port_or_service() -> None:
    values = chart.VALUE_SETS["metrics-off"]
    assert _address(values) is None
    assert _ports(values) == {"health": 8080}
    assert not chart.find(chart.render(values), "Service")


def test_the_service_monitor_scrapes_the_metrics_service_of_the_release() -> None:
    manifests = chart.render(chart.VALUE_SETS["everything-set"])
    monitor = chart.one(manifests, "ServiceMonitor")
    service = chart.one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == chart.NAMESPACE
    # Its extra labels, for Prometheus' serviceMonitorSelector, beside the chart's.
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["metadata"]["labels"]["app.kubernetes.io/instance"] == chart.RELEASE
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert selector["app.kubernetes.io/component"] == "metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [chart.NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",  # the Service port's name
        "path": "/metrics",
        "scheme": "http",
        # The per-request series' own `namespace` label wins over the target's.
        "honorLabels": True,
        "interval": MONITOR["serviceMonitor"]["interval"],
        "scrapeTimeout": MONITOR["serviceMonitor"]["scrapeTimeout"],
    }
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]


def test_interval_and_timeout_left_empty_are_prometheus_defaults() -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True, "interval": ""}}}
    (endpoint,) = chart.one(chart.render(values), "ServiceMonitor")["spec"]["endpoints"]
    assert "interval" not in endpoint
    assert "scrapeTimeout" not in endpoint


def test_a_service_monitor_without_metrics_is_refused() -> None:
    values = {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}}
    result = chart.template(values, check=False)
    assert result.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.enabled" in result.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "metrics.port=8080",  # kopf's health endpoint
        "metrics.port=0",
        "metrics.port=70000",
        "metrics.enabled=yes",
        "metrics.serviceMonitor.interval=soon",
        "metrics.serviceMonitor.scrapeTimeout=10",
        "metrics.unknown=1",
        "metrics.serviceMonitor.unknown=1",
    ],
)
def test_a_wrong_metrics_value_is_refused(setting: str) -> None:
    result = chart.template(None, "--set", setting, check=False)
    assert result.returncode != 0, setting
    assert "metrics" in result.stderr
