"""What the Helm chart, image and GitOps tests share: the real helm 4 and kubectl 1.33
binaries of the venv's tools folder (``license_report_sandbox.tools``), rendering with
named value sets, and Kubernetes 1.33 schema validation (``kubernetes-validate``).
"""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import re
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from license_report_sandbox import tools

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "license-report-operator"
CRD_FILE = ROOT / "crds" / "licensereportrequests.licensereport.io.yaml"
CHART_CRD_FILE = CHART / "crds-source" / "licensereportrequests.licensereport.io.yaml"
KUBERNETES_VERSION = "1.33"
RELEASE = "lro"
NAMESPACE = "license-report"

Manifest = dict[str, Any]

#: The value sets every rendering test runs with: name -> values.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["kong", "kong-edge"], "rbac": {"gatewayNamespaces": ["gw"]}},
    "ha": {"replicaCount": 3},
    "ha-namespaced": {"replicaCount": 2, "watchNamespaces": ["kong"]},
    "existing-key": {"hashKey": {"existingSecret": "my-hash-key"}},
    "operator-creates-key": {"hashKey": {"create": False, "name": "lr-key"}},
    "crds-off": {"crds": {"enabled": False}},
    "no-nodes": {"rbac": {"readNodes": False}},
    "no-port-forward": {
        "watchNamespaces": ["kong"],
        "rbac": {"gatewayNamespaces": ["gw"], "portForward": False},
    },
    "metrics-off": {"metrics": {"enabled": False}},
    "everything-set": {
        "fullnameOverride": "lr",
        "image": {"repository": "registry.example/lro", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry"}],
        "serviceAccount": {"name": "lr-sa", "annotations": {"iam.example/role": "lr"}},
        "log": {"level": "DEBUG", "format": "json"},
        "retrySeconds": 60,
        "extraEnv": [
            {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
        "podAnnotations": {"example/a": "b"},
        "podLabels": {"team": "platform"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "license-report-operator"}
                            },
                        },
                    }
                ]
            }
        },
        "livenessProbe": {"enabled": False},
        "metrics": {
            "port": 9102,
            "serviceMonitor": {
                "enabled": True,
                "interval": "15s",
                "scrapeTimeout": "10s",
                "labels": {"release": "prometheus"},
            },
        },
        "crds": {"keep": False},
        "peering": {"name": "lr-peers"},
        "replicaCount": 2,
    },
}


# --- binaries -------------------------------------------------------------------------


@functools.cache
def binary(name: str) -> pathlib.Path:
    """``helm`` or ``kubectl`` from the venv's tools (``make tools``), never one from $PATH."""
    finders = {"helm": tools.helm_path, "kubectl": tools.kubectl_path}
    try:
        return finders[name]()
    except tools.ToolMissing as error:
        pytest.fail(str(error))


def run(
    name: str, *args: str | pathlib.Path, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(binary(name)), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{name} {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


# --- rendering ------------------------------------------------------------------------


def template(
    values: Mapping[str, Any] | None = None,
    *args: str | pathlib.Path,
    chart: pathlib.Path = CHART,
    check: bool = True,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the chart, as release ``lro`` in namespace ``license-report``.
    Values go in as JSON (which is YAML) on stdin: exact types, unlike ``--set``."""
    return run(
        "helm",
        "template",
        RELEASE,
        chart,
        "--namespace",
        NAMESPACE,
        "-f",
        "-",
        *args,
        check=check,
        input=json.dumps(values or {}),
        **kwargs,
    )


def documents(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def _rendered(key: str, include_crds: bool) -> str:
    args = ("--include-crds",) if include_crds else ()
    return template(json.loads(key), *args).stdout


def render(
    values: Mapping[str, Any] | None = None, *, include_crds: bool = False
) -> list[Manifest]:
    """The chart's manifests for these values (cached: rendering is deterministic but for
    the random hash key, which tests of it render afresh with ``template``)."""
    key = json.dumps(values or {}, sort_keys=True)
    return copy.deepcopy(documents(_rendered(key, include_crds)))


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(manifests: list[Manifest]) -> dict[str, Any]:
    deployment = one(manifests, "Deployment")
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# --- Kubernetes schemas ---------------------------------------------------------------

#: Kinds whose schema is a CRD's, not Kubernetes': skipped by kubernetes-validate.
CUSTOM_KINDS = {
    ("licensereport.io/v1alpha1", "LicenseReportRequest"),
    ("kopf.dev/v1", "KopfPeering"),
    ("kopf.dev/v1", "ClusterKopfPeering"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


def validate(manifest: Manifest) -> None:
    """Validate against the Kubernetes 1.33 schemas, strictly (unknown fields fail)."""
    import kubernetes_validate  # type: ignore[import-untyped]  # untyped; imported late (slow)

    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def _definitions_file() -> pathlib.Path:
    import kubernetes_validate

    base = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return base / f"v{KUBERNETES_VERSION}.0-local-strict" / "_definitions.json"


#: values.schema.json key -> the Kubernetes type the value is passed through as.
KUBERNETES_TYPES = {
    "LocalObjectReference": "io.k8s.api.core.v1.LocalObjectReference",
    "EnvVar": "io.k8s.api.core.v1.EnvVar",
    "ResourceRequirements": "io.k8s.api.core.v1.ResourceRequirements",
    "PodSecurityContext": "io.k8s.api.core.v1.PodSecurityContext",
    "SecurityContext": "io.k8s.api.core.v1.SecurityContext",
    "Toleration": "io.k8s.api.core.v1.Toleration",
    "Affinity": "io.k8s.api.core.v1.Affinity",
}
_DROPPED_KEYWORDS = re.compile(r"^(description|format|x-kubernetes-.*)$")
_REF = re.compile(r"^.*#/\$defs/(io\.k8s\.[A-Za-z0-9.]+)$")


def kubernetes_definitions() -> dict[str, Any]:
    """The ``definitions`` of values.schema.json for values that are Kubernetes types:
    Kubernetes 1.33's own strict schemas (unknown fields refused), with every type they
    refer to, minus descriptions, formats and x-kubernetes extensions (helm's validator
    ignores those), named by their short type names (a collision fails here)."""
    all_defs: dict[str, Any] = json.loads(_definitions_file().read_text())["$defs"]

    def short(full: str) -> str:
        return full.rsplit(".", 1)[1]

    def clean(node: Any, wanted: set[str]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if _DROPPED_KEYWORDS.match(key):
                    continue
                if key == "$ref":
                    match = _REF.match(value)
                    assert match, value
                    wanted.add(match.group(1))
                    out[key] = f"#/definitions/{short(match.group(1))}"
                else:
                    out[key] = clean(value, wanted)
            return out
        if isinstance(node, list):
            return [clean(item, wanted) for item in node]
        return node

    result: dict[str, Any] = {}
    origin: dict[str, str] = {}
    pending = set(KUBERNETES_TYPES.values())
    while pending:
        full = pending.pop()
        name = short(full)
        if name in origin:
            assert origin[name] == full, f"{full} and {origin[name]} are both named {name}"
            continue
        wanted: set[str] = set()
        result[name] = clean(all_defs[full], wanted)
        origin[name] = full
        pending |= wanted
    assert set(KUBERNETES_TYPES) <= result.keys()
    return dict(sorted(result.items()))
