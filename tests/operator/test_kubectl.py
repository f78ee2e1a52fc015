"""Real kubectl 1.33 against the emulated API server: install the CRD, apply the examples."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import pathlib
import tarfile

import yaml

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, tools
from tests.helpers.cluster import Operator, create, deploy, request, wait_phase
from tests.helpers.fleets import FleetFactory

ROOT = pathlib.Path(__file__).parents[2]


async def _kubectl(kubeconfig: pathlib.Path, *args: str) -> str:
    child = await asyncio.create_subprocess_exec(
        str(tools.kubectl_path()), "--kubeconfig", str(kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


def _request_names(paths: list[pathlib.Path]) -> list[str]:
    """The names of the requests in the example files."""
    return [
        doc["metadata"]["name"]
        for path in paths
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "LicenseReportRequest"
    ]


async def test_kubectl_installs_the_crd_and_applies_every_example(tmp_path: pathlib.Path) -> None:
    async with kubeapi.serve() as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        await _kubectl(kubeconfig, "apply", "-f", str(ROOT / "crds"))
        # `kubectl create namespace` would send protobuf, which the emulator does not
        # speak; apply sends JSON, as it does for every manifest.
        namespace = tmp_path / "namespace.yaml"
        namespace.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kong\n")
        await _kubectl(kubeconfig, "apply", "-f", str(namespace))
        examples = sorted(
            p for p in (ROOT / "examples").glob("*.yaml") if p.name != "kustomization.yaml"
        )
        files = [arg for path in examples for arg in ("-f", str(path))]
        applied = await _kubectl(kubeconfig, "apply", *files)
        assert "licensereportrequest.licensereport.io/kong-chart created" in applied
        again = await _kubectl(
            kubeconfig, "apply", "-f", str(ROOT / "examples" / "kong-chart.yaml")
        )
        assert "licensereportrequest.licensereport.io/kong-chart unchanged" in again
        listed = await _kubectl(kubeconfig, "get", "lrr", "-n", "kong")
        header = listed.splitlines()[0].split()
        assert header == ["NAME", "PHASE", "REQUESTS", "SERVICES", "PODS", "AGE"]
        names = {line.split()[0] for line in listed.splitlines()[1:]}
        requests = _request_names(examples)
        assert sorted(names) == sorted(requests)  # no two examples name the same request
        await _kubectl(kubeconfig, "apply", "-k", str(ROOT / "examples"))


async def test_the_readme_command_reads_the_tar_out_of_the_report(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    tmp_path: pathlib.Path,
) -> None:
    # Two DB-mode nodes that flushed 5 each into one table: both show 10.
    shared = sim.Datastore()
    nodes = [
        sim.SimNode(name=f"gw-{i}", mode=sim.Mode.EE_DB, datastore=shared, counters={"UNKNOWN": 5})
        for i in range(2)
    ]
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("readme"))
        done = await wait_phase(clients, "readme", {"Succeeded"})
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    name = done["status"]["reportConfigMap"]
    # As README.md says: the tar is the ConfigMap's only binary key.
    encoded = await _kubectl(
        kubeconfig, "get", "cm", name, "-n", "kong", "-o", "jsonpath={.binaryData.*}"
    )
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded))) as tar:
        member = tar.extractfile("response.json")
        assert member is not None
        assert json.loads(member.read())["counters"] == [{"bucket": "UNKNOWN", "request_count": 10}]
