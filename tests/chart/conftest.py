"""The chart tests' API server, for the commands that need one: the project's emulator.

``kubectl apply --dry-run=client`` (and ``kubectl create --dry-run=client``) still asks
the server's discovery which resource each kind is, and fails against an unreachable
one; ``helm template --dry-run=server`` needs a server for ``lookup``. The emulator
serves the built-ins of the chart that it lacks (apps and RBAC kinds) and, as if their
CRDs were installed, the custom kinds the chart and the examples use: minimal CRDs for
the others' kinds, and the project's own CRD as release ``lro`` of the chart installed
it (with Helm's ownership metadata: helm refuses to adopt an object without it). The
objects are checked against the Kubernetes 1.33 schemas separately (``kubernetes-validate``).

The server runs in the test's event loop: tests run helm and kubectl through
``asyncio.to_thread`` (a blocking call would stall the server they talk to).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from license_report_sandbox import kubeapi
from tests.helpers import chart

#: Built-in kinds the chart renders that the emulator does not serve by default.
_BUILTINS = [
    kubeapi.Kind(
        group="apps", version="v1", plural="deployments", kind="Deployment",
        singular="deployment", namespaced=True, short_names=("deploy",), categories=("all",),
        status_subresource=True, generation=True,
    ),
    *(
        kubeapi.Kind(
            group="rbac.authorization.k8s.io", version="v1", plural=plural, kind=kind,
            singular=kind.lower(), namespaced=namespaced,
        )
        for plural, kind, namespaced in [
            ("clusterroles", "ClusterRole", False),
            ("clusterrolebindings", "ClusterRoleBinding", False),
            ("roles", "Role", True),
            ("rolebindings", "RoleBinding", True),
        ]
    ),
]  # fmt: skip

#: Custom kinds besides the project's own: kopf's peering, the Prometheus operator's
#: ServiceMonitor, and the GitOps examples' Argo CD and Flux kinds.
_CUSTOM = [
    kubeapi.make_crd(group="kopf.dev", kind="KopfPeering", plural="kopfpeerings"),
    kubeapi.make_crd(
        group="kopf.dev", kind="ClusterKopfPeering", plural="clusterkopfpeerings",
        namespaced=False,
    ),
    kubeapi.make_crd(
        group="monitoring.coreos.com", kind="ServiceMonitor", plural="servicemonitors"
    ),
    kubeapi.make_crd(
        group="argoproj.io", kind="Application", plural="applications", versions=("v1alpha1",)
    ),
    kubeapi.make_crd(
        group="source.toolkit.fluxcd.io", kind="GitRepository", plural="gitrepositories"
    ),
    kubeapi.make_crd(
        group="helm.toolkit.fluxcd.io", kind="HelmRelease", plural="helmreleases",
        versions=("v2",),
    ),
    kubeapi.make_crd(
        group="kustomize.toolkit.fluxcd.io", kind="Kustomization", plural="kustomizations"
    ),
]  # fmt: skip


def _released(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the metadata helm gives what release ``lro`` installs."""
    meta = obj["metadata"]
    meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
    meta.setdefault("annotations", {}).update(
        {
            "meta.helm.sh/release-name": chart.RELEASE,
            "meta.helm.sh/release-namespace": chart.NAMESPACE,
        }
    )
    return obj


@pytest.fixture
async def api_server() -> AsyncIterator[kubeapi.KubeAPI]:
    """The emulator over HTTPS with a token, serving every kind the chart and examples use."""
    async with kubeapi.serve() as api:
        for kind in _BUILTINS:
            api.store.register(kind)
        api.register_crd(_released(yaml.safe_load(chart.CRD_FILE.read_text())))
        for crd in _CUSTOM:
            api.register_crd(crd)
        api.requests.clear()  # what the commands under test asked, only
        yield api


@pytest.fixture
def kube_env(api_server: kubeapi.KubeAPI, tmp_path: pathlib.Path) -> dict[str, str]:
    """Environment for kubectl and helm pointed at ``api_server`` (caches under tmp_path)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(api_server.kubeconfig(tmp_path / "kubeconfig")),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
    }
