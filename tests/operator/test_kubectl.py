"""Real kubectl 1.33 against the emulated API server: install the CRD, apply the examples."""

from __future__ import annotations

import asyncio
import pathlib

from license_report.sim import kubeapi, tools

ROOT = pathlib.Path(__file__).parents[2]


async def _kubectl(kubeconfig: pathlib.Path, *args: str) -> str:
    child = await asyncio.create_subprocess_exec(
        str(tools.kubectl_path()), "--kubeconfig", str(kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


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
            str(p) for p in (ROOT / "examples").glob("*.yaml") if p.name != "kustomization.yaml"
        )
        files = [arg for path in examples for arg in ("-f", path)]
        applied = await _kubectl(kubeconfig, "apply", *files)
        assert "licensereportrequest.licensereport.io/kong-db created" in applied
        again = await _kubectl(kubeconfig, "apply", "-f", str(ROOT / "examples" / "db-mode.yaml"))
        assert "licensereportrequest.licensereport.io/kong-db unchanged" in again
        listed = await _kubectl(kubeconfig, "get", "lrr", "-n", "kong")
        header = listed.splitlines()[0].split()
        assert header == ["NAME", "PHASE", "REQUESTS", "SERVICES", "PODS", "AGE"]
        assert {line.split()[0] for line in listed.splitlines()[1:]} == {"kong-db", "kong-dbless"}
        await _kubectl(kubeconfig, "apply", "-k", str(ROOT / "examples"))
