"""Real kubectl 1.33 (``make tools``) works against the emulator over TLS with the kubeconfig.

kubectl is the strictest everyday client: it reads discovery to resolve
``lrr``, fetches OpenAPI v3 to decide how to validate, computes apply patches
from ``last-applied-configuration`` and prints server-side tables. It runs as a
subprocess while the emulator serves from this test's event loop, so it is
started with asyncio (a blocking call would stall the server it talks to).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import sys
from typing import Any

import pytest
import yaml

from license_report.api import crd
from license_report_sandbox import kubeapi

KONG_LABELS = {"app": "kong", "app.kubernetes.io/name": "kong"}


@dataclasses.dataclass
class Kubectl:
    kubeconfig: pathlib.Path
    home: pathlib.Path

    async def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        process = await asyncio.create_subprocess_exec(
            str(kubeapi.kubectl_path()),
            "--kubeconfig",
            str(self.kubeconfig),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        async with asyncio.timeout(30):
            out, err = await process.communicate(stdin.encode() if stdin is not None else None)
        if check and process.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} -> {process.returncode}: {err.decode()}"
            )
        return out.decode() + (err.decode() if not check else "")

    def write(self, name: str, *docs: Any) -> str:
        path = self.home / name
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return str(path)


@pytest.fixture
def kubectl(cluster: kubeapi.KubeAPI, tmp_path: pathlib.Path) -> Kubectl:
    """kubectl with its own HOME (discovery cache) and the emulator's kubeconfig (TLS, token)."""
    return Kubectl(kubeconfig=cluster.kubeconfig(tmp_path / "kubeconfig"), home=tmp_path)


def lrr(name: str, months: int = 12) -> dict[str, Any]:
    return {
        "apiVersion": "licensereport.io/v1alpha1",
        "kind": "LicenseReportRequest",
        "metadata": {"name": name, "namespace": "kong"},
        "spec": {
            "gateway": {"selector": {"matchLabels": KONG_LABELS}},
            "report": {"months": months},
        },
    }


async def test_the_kubectl_used_is_the_projects_1_33() -> None:
    path = kubeapi.kubectl_path()
    # The venv's tools folder (``make tools``), never a kubectl found on $PATH.
    assert path.parent == pathlib.Path(sys.prefix, "libexec", "license-report-tools")
    process = await asyncio.create_subprocess_exec(
        str(path), "version", "--client", "-o", "json", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert json.loads(out)["clientVersion"]["minor"] == "33"


async def test_get_pods_by_label_as_json(cluster: kubeapi.KubeAPI, kubectl: Kubectl) -> None:
    cluster.put(kubeapi.make_pod("kong-1", "kong", labels=KONG_LABELS, ip="127.0.0.2"))
    cluster.put(kubeapi.make_pod("kong-2", "kong", labels=KONG_LABELS, ip="127.0.0.3"))
    cluster.put(kubeapi.make_pod("postgres-0", "kong", labels={"app": "postgres"}))

    listing = json.loads(await kubectl("get", "pods", "-n", "kong", "-l", "app=kong", "-o", "json"))
    everywhere = json.loads(await kubectl("get", "pods", "-A", "-l", "app!=kong", "-o", "json"))

    assert {p["metadata"]["name"]: p["status"]["podIP"] for p in listing["items"]} == {
        "kong-1": "127.0.0.2",
        "kong-2": "127.0.0.3",
    }
    assert [p["metadata"]["name"] for p in everywhere["items"]] == ["postgres-0"]


async def test_apply_a_configmap_then_reapply(cluster: kubeapi.KubeAPI, kubectl: Kubectl) -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "kong"},
        "data": {"interval": "60"},
    }
    path = kubectl.write("configmap.yaml", configmap)

    assert (await kubectl("apply", "-f", path)).strip() == "configmap/settings created"
    assert (await kubectl("apply", "-f", path)).strip() == "configmap/settings unchanged"
    configmap["data"] = {"interval": "30", "timeout": "5"}
    path = kubectl.write("configmap.yaml", configmap)
    assert (await kubectl("apply", "-f", path)).strip() == "configmap/settings configured"

    stored = cluster.get("v1", "ConfigMap", "settings", "kong")
    assert stored is not None
    assert stored["data"] == {"interval": "30", "timeout": "5"}
    annotations = stored["metadata"]["annotations"]
    assert (
        json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])["data"]
        == configmap["data"]
    )


async def test_apply_a_crd_and_a_custom_resource_and_get_it_by_short_name(
    cluster: kubeapi.KubeAPI, kubectl: Kubectl, lrr_crd: dict[str, Any]
) -> None:
    crd_path = kubectl.write("crd.yaml", lrr_crd)
    out = await kubectl("apply", "-f", crd_path)
    crd_name = (
        "customresourcedefinition.apiextensions.k8s.io/licensereportrequests.licensereport.io"
    )
    assert out.strip() == f"{crd_name} created"

    request = kubectl.write("request.yaml", lrr("monthly"))
    assert (
        await kubectl("apply", "-f", request)
    ).strip() == "licensereportrequest.licensereport.io/monthly created"
    assert (
        await kubectl("apply", "-f", request)
    ).strip() == "licensereportrequest.licensereport.io/monthly unchanged"
    request = kubectl.write("request.yaml", lrr("monthly", months=3))
    assert (
        await kubectl("apply", "-f", request)
    ).strip() == "licensereportrequest.licensereport.io/monthly configured"
    stored = cluster.get("licensereport.io/v1alpha1", "LicenseReportRequest", "monthly", "kong")
    assert stored is not None
    assert (stored["spec"]["report"], stored["metadata"]["generation"]) == ({"months": 3}, 2)

    status = json.dumps({"status": {"phase": "Succeeded", "summary": {"gatewayPods": 3}}})
    await kubectl(
        "patch",
        "lrr",
        "monthly",
        "-n",
        "kong",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    )
    table = (await kubectl("get", "lrr", "-n", "kong")).splitlines()

    assert table[0].split() == ["NAME", "PHASE", "PODS", "AGE"]
    assert table[1].split()[:3] == ["monthly", "Succeeded", "3"]


async def test_delete(cluster: kubeapi.KubeAPI, kubectl: Kubectl, lrr_crd: dict[str, Any]) -> None:
    cluster.register_crd(lrr_crd)
    cluster.put(lrr("doomed"))
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "kong", "labels": {"x": "y"}},
        }
    )
    cluster.put(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "kong"}}
    )

    out = await kubectl("delete", "lrr", "doomed", "-n", "kong")
    assert out.strip() == 'licensereportrequest.licensereport.io "doomed" deleted'
    out = await kubectl("delete", "configmaps", "-n", "kong", "-l", "x=y")
    assert out.strip() == 'configmap "a" deleted'

    assert (
        cluster.get("licensereport.io/v1alpha1", "LicenseReportRequest", "doomed", "kong") is None
    )
    remaining = await kubectl("get", "configmaps", "-n", "kong", "-o", "name")
    assert remaining.split() == ["configmap/b"]
    missing = await kubectl("delete", "lrr", "doomed", "-n", "kong", check=False)
    assert 'licensereportrequests.licensereport.io "doomed" not found' in missing


async def test_a_wrong_token_is_unauthorized(cluster: kubeapi.KubeAPI, kubectl: Kubectl) -> None:
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    kubectl.kubeconfig.write_text(yaml.safe_dump(config))

    out = await kubectl("get", "pods", "-n", "kong", check=False)

    assert "error: You must be logged in to the server" in out


# --- kubectl explain: the CRD's descriptions, through /openapi/v3 -----------------------------


def _objects(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every object field under ``node`` (kubectl explain's paths: list items by the list)."""
    found = []
    for name, child in node.get("properties", {}).items():
        target = child.get("items", child) if child.get("type") == "array" else child
        if target.get("properties"):
            found.append((f"{path}.{name}", target))
            found += _objects(target, f"{path}.{name}")
    return found


def _words(text: str) -> str:
    return " ".join(text.split())


async def test_explain_spec_recursive_lists_every_field_under_its_description(
    cluster: kubeapi.KubeAPI, kubectl: Kubectl
) -> None:
    definition = crd.definition()
    cluster.register_crd(definition)
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    out = await kubectl("explain", "licensereportrequest.spec", "--recursive")

    assert "KIND:       LicenseReportRequest" in out
    assert _words(spec["description"]) in _words(out)
    listed = {line.split()[0] for line in out.split("FIELDS:")[1].splitlines() if line.strip()}
    expected = {
        name for _, node in [("spec", spec), *_objects(spec, "spec")] for name in node["properties"]
    }
    assert expected <= listed


async def test_explain_shows_the_description_of_every_spec_field(
    cluster: kubeapi.KubeAPI, kubectl: Kubectl
) -> None:
    """One ``kubectl explain`` per object in the spec: each prints its fields' descriptions."""
    definition = crd.definition()
    cluster.register_crd(definition)
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    missing = []
    for path, node in [("spec", spec), *_objects(spec, "spec")]:
        out = _words(await kubectl("explain", f"licensereportrequest.{path}"))
        missing += [
            f"{path}.{name}"
            for name, child in node["properties"].items()
            if _words(child["description"]) not in out
        ]

    assert missing == []
    gateway = _words(await kubectl("explain", "lrr.spec.gateway"))
    assert "FIELD: gateway <Object>" in gateway
    assert "How many gateway pods are asked at once (1-1024). Default: 64." in gateway
