"""The operator Deployment: `license-report run` flags the CLI really accepts, the
restricted security context, probes on kopf's health endpoint, the writable /tmp."""

from __future__ import annotations

import argparse
import re
import tomllib
from typing import Any

import pytest
import yaml

from license_report.cli import main as cli
from tests.helpers import chart


def _parsed(values: dict[str, Any]) -> argparse.Namespace:
    """The container's args through the real `license-report` parser (the image's
    entry point is `license-report run`): a flag the CLI does not know fails here."""
    args = chart.container(chart.render(values))["args"]
    assert all(isinstance(arg, str) for arg in args)
    parsed = cli.parser().parse_args(["run", *args])
    assert parsed.command == "run"
    return parsed


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_the_cli_accepts_the_rendered_flags(name: str) -> None:
    parsed = _parsed(chart.VALUE_SETS[name])
    assert parsed.liveness == "http://0.0.0.0:8080/healthz"


def test_one_replica_runs_standalone_and_is_recreated_not_rolled() -> None:
    parsed = _parsed({})
    assert parsed.standalone is True
    assert parsed.peering is None
    deployment = chart.one(chart.render(), "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_several_replicas_peer_through_the_chart_peering_object() -> None:
    manifests = chart.render(chart.VALUE_SETS["ha"])
    parsed = _parsed(chart.VALUE_SETS["ha"])
    assert parsed.standalone is False
    peering = chart.one(manifests, "ClusterKopfPeering")
    assert parsed.peering == peering["metadata"]["name"] == "lro-license-report-operator"
    deployment = chart.one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "strategy" not in deployment["spec"]  # RollingUpdate: peers coordinate


def test_namespaced_peering_has_one_object_per_watched_namespace() -> None:
    values = {"replicaCount": 2, "watchNamespaces": ["kong", "edge"], "peering": {"name": "p"}}
    manifests = chart.render(values)
    assert _parsed(values).peering == "p"
    assert not chart.find(manifests, "ClusterKopfPeering")
    assert {
        (m["metadata"]["namespace"], m["metadata"]["name"])
        for m in chart.find(manifests, "KopfPeering")
    } == {
        ("kong", "p"),
        ("edge", "p"),
    }


def test_watched_namespaces_become_namespace_flags() -> None:
    assert _parsed({}).namespace == []
    assert _parsed(chart.VALUE_SETS["namespaced"]).namespace == ["kong", "kong-edge"]


def test_log_and_retry_settings_become_flags() -> None:
    parsed = _parsed({"log": {"level": "DEBUG", "format": "json"}, "retrySeconds": 42.5})
    assert (parsed.log_level, parsed.log_format, parsed.retry_seconds) == ("DEBUG", "json", 42.5)
    defaults = _parsed({})
    assert (defaults.log_level, defaults.log_format, defaults.retry_seconds) == (
        "INFO",
        "plain",
        300,
    )


def test_the_operator_knows_its_namespace_from_the_downward_api() -> None:
    env = {e["name"]: e for e in chart.container(chart.render())["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_extra_env_is_appended() -> None:
    env = chart.container(chart.render(chart.VALUE_SETS["everything-set"]))["env"]
    assert [e["name"] for e in env] == ["POD_NAMESPACE", "POD_ID", "HTTPS_PROXY", "NODE"]


def test_restricted_security_context_by_default() -> None:
    manifests = chart.render()
    pod = chart.one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    security = chart.container(manifests)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    assert "privileged" not in security


def test_the_image_user_is_the_pod_user() -> None:
    dockerfile = (chart.ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\d+)", dockerfile, re.MULTILINE)
    pod = chart.one(chart.render(), "Deployment")["spec"]["template"]["spec"]
    assert int(users[-1]) == pod["securityContext"]["runAsUser"] == 65532


def test_tmp_is_a_writable_empty_dir() -> None:
    manifests = chart.render()
    pod = chart.one(manifests, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in chart.container(manifests)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert not mounts.keys() - {"/tmp"}


def test_probes_ask_kopf_health_endpoint() -> None:
    container = chart.container(chart.render())
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 8081}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    without = chart.container(chart.render({"livenessProbe": {"enabled": False}}))
    assert "livenessProbe" not in without
    assert "readinessProbe" in without


def test_the_image_tag_defaults_to_the_app_version_which_is_the_package_version() -> None:
    app_version = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())["appVersion"]
    project = tomllib.loads((chart.ROOT / "pyproject.toml").read_text())["project"]
    assert app_version == project["version"]
    container = chart.container(chart.render())
    assert container["image"] == f"license-report-operator:{app_version}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    custom = chart.container(chart.render(chart.VALUE_SETS["everything-set"]))
    assert custom["image"] == "registry.example/lro:1.2.3"


def test_scheduling_and_pull_settings_reach_the_pod() -> None:
    values = chart.VALUE_SETS["everything-set"]
    pod = chart.one(chart.render(values), "Deployment")["spec"]["template"]
    spec = pod["spec"]
    assert spec["nodeSelector"] == values["nodeSelector"]
    assert spec["tolerations"] == values["tolerations"]
    assert spec["affinity"] == values["affinity"]
    assert spec["imagePullSecrets"] == [{"name": "registry"}]
    assert spec["serviceAccountName"] == "lr-sa"
    assert pod["metadata"]["annotations"] == {"example/a": "b"}
    assert pod["metadata"]["labels"]["team"] == "platform"


def test_resources_are_set_by_default() -> None:
    resources = chart.container(chart.render())["resources"]
    assert resources["requests"].keys() == {"cpu", "memory"}
    assert "memory" in resources["limits"]


def test_service_account_settings() -> None:
    manifests = chart.render({"serviceAccount": {"annotations": {"a": "b"}}})
    assert chart.one(manifests, "ServiceAccount")["metadata"]["annotations"] == {"a": "b"}
    external = chart.render({"serviceAccount": {"create": False, "name": "existing"}})
    assert not chart.find(external, "ServiceAccount")
    pod = chart.one(external, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "existing"
    refused = chart.template({"serviceAccount": {"create": False}}, check=False)
    assert "serviceAccount.name is required" in refused.stderr
