"""Fixtures for the Helm chart, image and GitOps tests: the real helm 4 and kubectl 1.33
binaries of the venv's tools folder (``license_report_sandbox.tools``), rendering with
named value sets, Kubernetes 1.33 schema validation, and a discovery-only API server for
the commands that need one.

Why a fake API server: ``kubectl apply --dry-run=client`` (and ``kubectl create
--dry-run=client``) still asks the server's discovery which resource each kind is,
and fails against an unreachable one; ``helm template --dry-run=server`` needs a
server for ``lookup``. ``DiscoveryServer`` answers ``/version``, the discovery
documents of the kinds this project ships, and reads of objects seeded into it
(404 otherwise); it refuses every write. The objects are checked against the
Kubernetes 1.33 schemas separately (``kubernetes-validate``).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import http.server
import json
import pathlib
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
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


# --- a discovery-only API server ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Resource:
    group_version: str
    plural: str
    kind: str
    namespaced: bool


RESOURCES = [
    Resource("v1", "configmaps", "ConfigMap", True),
    Resource("v1", "events", "Event", True),
    Resource("v1", "namespaces", "Namespace", False),
    Resource("v1", "nodes", "Node", False),
    Resource("v1", "pods", "Pod", True),
    Resource("v1", "secrets", "Secret", True),
    Resource("v1", "serviceaccounts", "ServiceAccount", True),
    Resource("v1", "services", "Service", True),
    Resource("apps/v1", "deployments", "Deployment", True),
    Resource("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    Resource(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", False
    ),
    Resource("licensereport.io/v1alpha1", "licensereportrequests", "LicenseReportRequest", True),
    Resource("kopf.dev/v1", "kopfpeerings", "KopfPeering", True),
    Resource("kopf.dev/v1", "clusterkopfpeerings", "ClusterKopfPeering", False),
    Resource("monitoring.coreos.com/v1", "servicemonitors", "ServiceMonitor", True),
    # The GitOps examples' kinds.
    Resource("argoproj.io/v1alpha1", "applications", "Application", True),
    Resource("source.toolkit.fluxcd.io/v1", "gitrepositories", "GitRepository", True),
    Resource("helm.toolkit.fluxcd.io/v2", "helmreleases", "HelmRelease", True),
    Resource("kustomize.toolkit.fluxcd.io/v1", "kustomizations", "Kustomization", True),
]


class _Server(http.server.ThreadingHTTPServer):
    # kubectl asks for every API group at once: the default backlog of 5 drops
    # connections, which the client retries only after a second.
    request_queue_size = 128
    daemon_threads = True


class DiscoveryServer:
    """Serves discovery and seeded objects over plain HTTP on 127.0.0.1; refuses writes."""

    def __init__(self) -> None:
        self.objects: dict[str, Manifest] = {}
        self.requests: list[tuple[str, str]] = []
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def seed(self, obj: Manifest) -> None:
        resource = next(
            r for r in RESOURCES if r.kind == obj["kind"] and r.group_version == obj["apiVersion"]
        )
        self.objects[self._path(resource, obj["metadata"])] = obj

    @staticmethod
    def _path(resource: Resource, meta: Mapping[str, str]) -> str:
        base = "/api/v1" if resource.group_version == "v1" else f"/apis/{resource.group_version}"
        if resource.namespaced:
            base += f"/namespaces/{meta['namespace']}"
        return f"{base}/{resource.plural}/{meta['name']}"

    def _discovery(self, path: str) -> Any:
        if path == "/version":
            return {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        groups: dict[str, list[Resource]] = {}
        for resource in RESOURCES:
            groups.setdefault(resource.group_version, []).append(resource)
        if path == "/apis":
            entries = []
            for gv in groups:
                if gv == "v1":
                    continue
                group, version = gv.split("/")
                ref = {"groupVersion": gv, "version": version}
                entries.append({"name": group, "versions": [ref], "preferredVersion": ref})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": entries}
        gv = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
        if gv in groups:
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for r in groups[gv]
                ],
            }
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
            disable_nagle_algorithm = True  # else each small answer waits for a delayed ACK

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str) -> None:
                self._answer(
                    code,
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
                    | {"reason": reason, "message": f"{reason} (discovery-only test server)"},
                )

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                server.requests.append(("GET", path))
                found = server._discovery(path)
                if found is None:
                    found = server.objects.get(path)
                if found is None:
                    self._status(404, "NotFound")
                else:
                    self._answer(200, found)

            def _refuse(self) -> None:
                server.requests.append((self.command, self.path))
                self._status(405, "MethodNotAllowed")

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        return Handler

    def kubeconfig(self, directory: pathlib.Path) -> pathlib.Path:
        path = directory / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def __enter__(self) -> DiscoveryServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def api_server() -> Iterator[DiscoveryServer]:
    with DiscoveryServer() as server:
        yield server


@pytest.fixture
def kube_env(api_server: DiscoveryServer, tmp_path: pathlib.Path) -> dict[str, str]:
    """Environment for kubectl and helm pointed at ``api_server`` (caches under tmp_path)."""
    import os

    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(api_server.kubeconfig(tmp_path)),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
    }
