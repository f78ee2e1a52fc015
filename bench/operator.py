"""The operator end to end: a request's creation to Succeeded, for 10, 100 and 1,000 pods.

Run: ``.venv/bin/python -m bench.operator`` (``--pods 10 100 1000``; issue 6's
size case: ``--pods 10 1000 10000``; issue 13's: ``--pods 1000 10000
--port-forward 1000``).
Targets (issue 3): 1,000 gateway pods (Admin API answering after 50 ms) in at
most 5 s from creation to Succeeded; operator RSS at most 200 MB. Issue 13:
1,000 pods through port-forward in at most 5 s, 10,000 pods direct within 12x
the 1,000-pod time of the same run, RSS at most 250 MB. The pods are the Kong
chart's (`topologies.chart_default`): ``--pods`` sizes reach the Admin API on
the pod IP, ``--port-forward`` sizes through the emulated API server's
``pods/portforward`` to the pod's loopback 8444 (TLS), as the chart's defaults
have it. The operator is the real ``license-report run`` in its own process
(its RSS and CPU sampled with psutil); the emulated API server runs here, the
simulated Kong fleet in a third process (`bench.kongfleet`). Each run's
figures are checked: Succeeded, and every pod created reached.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import json
import pathlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import psutil

from bench import kongfleet
from license_report.api import crd
from license_report.reconcile import kube
from license_report_sandbox import kubeapi, topologies
from license_report_sandbox.topologies import pods as pod_shapes

LABELS = {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "bench"}
LICENSE = {
    "license": {
        "payload": {"license_key": "BENCH-KEY", "license_expiration_date": "2030-01-01"},
        "signature": "s",
        "version": "1",
    }
}


async def _wait(
    clients: kube.Clients, name: str, namespace: str, sampler: Sampler
) -> tuple[float, dict[str, Any]]:
    while True:
        obj = await kube.call(
            clients.custom.get_namespaced_custom_object,
            "licensereport.io", "v1alpha1", namespace, "licensereportrequests", name,
        )  # fmt: skip
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Degraded", "Failed"):
            if phase != "Succeeded":
                raise RuntimeError(f"{name}: {phase}: {obj['status'].get('conditions')}")
            return time.perf_counter(), obj["status"]
        # The RSS every 20 ms, the phase every 100 ms: each GET costs the emulated API server
        # (in this process, on these two cores) a few milliseconds of CPU.
        for _ in range(5):
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

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)


def _chart_pods(
    *, namespace: str, pod_ips: list[str], admin_listen: str | None
) -> list[dict[str, Any]]:
    """The Kong chart's Enterprise DB-less gateway pods (its defaults: the Admin API on the
    pod's loopback, 127.0.0.1:8444 with TLS; or ``admin_listen``, as a chart exposing
    the Admin API renders it), spread over the 20 Nodes."""
    pods = topologies.chart_default(
        release="bench", namespace=namespace, pod_ips=pod_ips,
        image=topologies.ENTERPRISE_IMAGE, license_secret=topologies.LICENSE_SECRET,
    )  # fmt: skip
    taken: set[str] = set()
    for index, pod in enumerate(pods):
        pod["spec"]["nodeName"] = f"machine-{index % 20}"
        # The ReplicaSet's five-character suffixes collide about once in 2,000 pods at
        # 10,000; the API server would refuse the name and the controller pick another.
        name = pod["metadata"]["name"]
        while name in taken:
            name = name[:-5] + pod_shapes.suffix("retry", name, str(index), length=5)
        pod["metadata"]["name"] = name
        taken.add(name)
        for container in pod["spec"]["containers"]:
            for variable in container.get("env", []):
                if admin_listen and variable["name"] == "KONG_ADMIN_LISTEN":
                    variable["value"] = admin_listen
    return pods


def _license_secret(namespace: str) -> dict[str, Any]:
    text = json.dumps(LICENSE)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": topologies.LICENSE_SECRET, "namespace": namespace},
        "type": "Opaque",
        "data": {"license": base64.b64encode(text.encode()).decode()},
    }


def _pod_ip(index: int) -> str:
    """Pod IPs for the port-forward case, 127.3.x.y: nothing listens there (a port-forward
    alone reaches the Admin API), and a stray direct request is refused at once."""
    return f"127.3.{index // 250}.{index % 250 + 1}"


async def _one(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    sampler: Sampler,
    *,
    pods: int,
    latency: float,
    access: str,
) -> tuple[float, tuple[float, float]]:
    """One request over ``pods`` chart pods, creation to Succeeded in seconds (and the CPU
    seconds the operator and this process, the emulated API server, used meanwhile): ``direct``
    (the Admin API on the pod IP, plain HTTP: ``KONG_ADMIN_LISTEN=0.0.0.0:<port>``, and
    ``access: direct`` in the request) or ``portForward`` (the chart's loopback TLS
    listener, a selector-only request)."""
    forwarded = access == "portForward"
    namespace = f"bench-{pods}-{access.lower()}"
    api.put(kubeapi.make_namespace(namespace))
    api.put(_license_secret(namespace))
    first = "127.1.0.2" if forwarded else "127.0.0.2"
    with kongfleet.spawn(count=pods, latency=latency, tls=forwarded, first_address=first) as fleet:
        nodes = fleet["nodes"]
        ips = [_pod_ip(i) if forwarded else n["address"] for i, n in enumerate(nodes)]
        port = fleet["port"]
        listen = None if forwarded else f"0.0.0.0:{port}, [::]:{port}"
        chart = _chart_pods(namespace=namespace, pod_ips=ips, admin_listen=listen)
        names = [pod["metadata"]["name"] for pod in chart]
        for pod, node in zip(chart, nodes, strict=True):
            api.put(pod)
            if forwarded:  # the pod's 127.0.0.1:8444 is this node; the Pod object never shows it
                api.pod_network.listen(
                    namespace, pod["metadata"]["name"], {8444: (node["address"], fleet["port"])}
                )
        admin: dict[str, Any] = {} if forwarded else {"access": "direct"}
        gateway: dict[str, Any] = {"selector": {"matchLabels": LABELS}}
        if admin:
            gateway["adminApi"] = admin
        body: dict[str, Any] = {
            "apiVersion": "licensereport.io/v1alpha1",
            "kind": "LicenseReportRequest",
            "metadata": {"name": "bench", "namespace": namespace},
            # The report's path alone: these DB-less pods would be metered by default, and the
            # sampler has its own benchmark (bench.metering).
            "spec": {"gateway": gateway, "metering": {"enabled": False}},
        }
        started = time.perf_counter()
        cpu = (sampler.cpu(), time.process_time())
        await kube.call(
            clients.custom.create_namespaced_custom_object,
            "licensereport.io", "v1alpha1", namespace, "licensereportrequests", body,
        )  # fmt: skip
        finished, status = await _wait(clients, "bench", namespace, sampler)
        cpu = (sampler.cpu() - cpu[0], time.process_time() - cpu[1])
    reached = status["summary"]["podsReached"]
    if reached != pods:
        raise RuntimeError(f"{namespace}: {reached} pods reached of {pods}: {status}")
    for name in names:
        api.pod_network.forget(namespace, name)
    return finished - started, cpu


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
                # Served, as in a cluster, on a port of its own: other runs may hold 8081.
                "--metrics-address", "127.0.0.1:0",
            ]  # fmt: skip
            operator = await asyncio.create_subprocess_exec(*command)
            try:
                sampler = Sampler(operator.pid)
                await asyncio.sleep(3.0)  # started and idle
                yield api, clients, sampler
            finally:
                operator.terminate()
                await asyncio.wait_for(operator.wait(), timeout=30)


async def main(sizes: list[int], forwarded: list[int], latency: float) -> None:
    """Every direct size, each followed by the port-forward run of the same size if asked
    (so the two compare under the same load), then port-forward sizes with no direct twin."""
    runs = [(size, "direct") for size in sizes]
    for size in forwarded:
        at = next((i for i, (s, _) in enumerate(runs) if s == size), len(runs) - 1)
        runs.insert(at + 1, (size, "portForward"))
    async with operator_and_api() as (api, clients, sampler):
        idle = sampler.sample()
        timings: dict[tuple[int, str], tuple[float, int, float, float]] = {}
        for size, access in runs:
            sampler.peak = 0
            seconds, (operator_cpu, emulator_cpu) = await _one(
                api, clients, sampler, pods=size, latency=latency, access=access
            )
            timings[size, access] = (seconds, sampler.peak, operator_cpu, emulator_cpu)
            print(
                f"{size} {access}: {seconds:.2f} s, {sampler.peak / 2**20:.0f} MB, CPU: operator"
                f" {operator_cpu:.1f} s, emulator {emulator_cpu:.1f} s",
                file=sys.stderr,
            )

    mb = 1024 * 1024
    base = timings.get((1000, "direct"), (0.0, 0))[0]
    print("| measurement | value | target |\n| --- | --- | --- |")
    print(f"| when | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC} |  |")
    print(f"| Admin API latency | {latency * 1000:g} ms |  |")
    print(f"| operator RSS, idle | {idle / mb:.0f} MB |  |")
    for (size, access), (seconds, peak, operator_cpu, emulator_cpu) in timings.items():
        how = "port-forward (chart default, selector only)" if access == "portForward" else "direct"
        if size == 1000:
            target = "<= 5 s" + ("" if access == "portForward" else "; baseline")
        elif size > 1000 and base:
            target = f"<= 12 x 1000 direct = {12 * base:.1f} s ({seconds / base:.1f}x)"
        else:
            target = ""
        print(f"| {size} pods, {how}: creation to Succeeded | {seconds:.2f} s | {target} |")
        print(f"| {size} pods, {how}: operator peak RSS | {peak / mb:.0f} MB | <= 250 MB |")
        print(
            f"| {size} pods, {how}: CPU used by the operator, the emulated API server"
            f" | {operator_cpu:.1f} s, {emulator_cpu:.1f} s |  |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument(
        "--port-forward", type=int, nargs="*", default=[], help="sizes asked through port-forward"
    )
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    # uvloop, as the fleet: the emulated API server (TLS and the kubelet relay of every
    # port-forward) runs here, and must not be what is measured.
    import uvloop

    uvloop.run(main(args.pods, args.port_forward, args.latency))
