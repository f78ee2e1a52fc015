"""The operator end to end: a request's creation to Succeeded, for 10, 100 and 1,000 pods.

Run: ``.venv/bin/python -m bench.operator`` (``--pods 10 100 1000``; issue 6's
size case: ``--pods 10 1000 10000``).
Targets (issue 3): 1,000 gateway pods (Admin API answering after 50 ms) in at
most 5 s from creation to Succeeded; operator RSS at most 200 MB. The
operator is the real ``license-report run`` in its own process (its RSS is
sampled with psutil); the emulated API server runs here, the simulated Kong
fleet in a third process. Baseline in the same run: 10 pods.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import pathlib
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import psutil

from license_report.api import crd
from license_report.reconcile import kube
from license_report_sandbox import kubeapi, process

LABELS = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "bench"}


async def _wait(clients: kube.Clients, name: str, namespace: str, sampler: Sampler) -> float:
    while True:
        obj = await kube.call(
            clients.custom.get_namespaced_custom_object,
            "licensereport.io", "v1alpha1", namespace, "licensereportrequests", name,
        )  # fmt: skip
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Degraded", "Failed"):
            if phase != "Succeeded":
                raise RuntimeError(f"{name}: {phase}: {obj['status'].get('conditions')}")
            return time.perf_counter()
        sampler.sample()
        await asyncio.sleep(0.02)


class Sampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0

    def sample(self) -> int:
        rss: int = self.process.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss


async def _one(
    api: kubeapi.KubeAPI, clients: kube.Clients, sampler: Sampler, *, pods: int, latency: float
) -> float:
    namespace = f"bench-{pods}"
    api.put(kubeapi.make_namespace(namespace))
    with process.spawn_fleet(count=pods, mode="ee-dbless", latency=latency) as fleet:
        for index, node in enumerate(fleet["nodes"]):
            url = urllib.parse.urlsplit(node["url"])
            api.put(
                kubeapi.make_pod(
                    node["name"], namespace, labels=LABELS, ip=url.hostname,
                    node_name=f"machine-{index % 20}", ports=[("admin", url.port or 8001)],
                )
            )  # fmt: skip
        body: dict[str, Any] = {
            "apiVersion": "licensereport.io/v1alpha1",
            "kind": "LicenseReportRequest",
            "metadata": {"name": "bench", "namespace": namespace},
            "spec": {
                "gateway": {"selector": {"matchLabels": LABELS}, "adminApi": {"portName": "admin"}}
            },
        }
        started = time.perf_counter()
        await kube.call(
            clients.custom.create_namespaced_custom_object,
            "licensereport.io", "v1alpha1", namespace, "licensereportrequests", body,
        )  # fmt: skip
        finished = await _wait(clients, "bench", namespace, sampler)
    return finished - started


@contextlib.asynccontextmanager
async def operator_and_api() -> AsyncIterator[tuple[kubeapi.KubeAPI, kube.Clients, Sampler]]:
    """The emulated API server here, ``license-report run`` in a child process, its RSS sampler."""
    async with kubeapi.serve() as api:
        api.register_crd(crd.definition())
        api.put(kubeapi.make_namespace("license-report"))
        for index in range(20):
            api.put(kubeapi.make_node(f"machine-{index}", cpu=8))
        clients = kube.Clients.from_api_client(api.client())
        with tempfile.TemporaryDirectory() as scratch:
            kubeconfig = api.kubeconfig(pathlib.Path(scratch) / "kubeconfig")
            command = [
                str(pathlib.Path(sys.executable).with_name("license-report")), "run",
                "--kubeconfig", str(kubeconfig), "--standalone",
                "--operator-namespace", "license-report",
                "--liveness", "", "--log-level", "WARNING",
            ]  # fmt: skip
            operator = await asyncio.create_subprocess_exec(*command)
            try:
                sampler = Sampler(operator.pid)
                await asyncio.sleep(3.0)  # started and idle
                yield api, clients, sampler
            finally:
                operator.terminate()
                await asyncio.wait_for(operator.wait(), timeout=30)


async def main(sizes: list[int], latency: float) -> None:
    async with operator_and_api() as (api, clients, sampler):
        idle = sampler.sample()
        timings = {}
        for size in sizes:
            sampler.peak = 0
            timings[size] = (
                await _one(api, clients, sampler, pods=size, latency=latency),
                sampler.peak,
            )

    mb = 1024 * 1024
    print("| measurement | value | target |\n| --- | --- | --- |")
    print(f"| when | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC} |  |")
    print(f"| Admin API latency | {latency * 1000:g} ms |  |")
    print(f"| operator RSS, idle | {idle / mb:.0f} MB | <= 200 MB |")
    for size, (seconds, peak) in timings.items():
        target = "<= 5 s" if size == 1000 else ("baseline" if size == min(sizes) else "")
        print(f"| {size} pods: creation to Succeeded | {seconds:.2f} s | {target} |")
        memory = "<= 200 MB" if size <= 1000 else ""  # issue 3's target is for 1,000 pods
        print(f"| {size} pods: operator peak RSS during the run | {peak / mb:.0f} MB | {memory} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(main(args.pods, args.latency))
