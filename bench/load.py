"""Many requests at once: 200 in 20 namespaces, each namespace with its own two pods.

Run: ``.venv/bin/python -m bench.load`` (``--namespaces 20 --per-namespace 10``).
Issue 6 asks that they all complete, none mixed up (``tests/operator/test_load.py``
proves that) and that memory stays bounded: this measures the operator's peak
RSS (the real ``license-report run`` in its own process) and the time from the
first creation to the last terminal phase. Baseline in the same run: one request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import time
import urllib.parse
from typing import Any

from bench.operator import Sampler, operator_and_api
from license_report.reconcile import kube
from license_report_sandbox import kubeapi, process

TERMINAL = ("Succeeded", "Degraded", "Failed")


async def _round(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    sampler: Sampler,
    *,
    namespaces: list[str],
    per_namespace: int,
    tag: str,
) -> tuple[float, int]:
    """Create ``per_namespace`` requests in each namespace at once; wait for every one."""
    sampler.peak = 0
    bodies: list[dict[str, Any]] = [
        {
            "apiVersion": "licensereport.io/v1alpha1",
            "kind": "LicenseReportRequest",
            "metadata": {"name": f"{tag}-{i}", "namespace": namespace},
            "spec": {
                "gateway": {
                    "selector": {"matchLabels": {"tenant": namespace}},
                    "adminApi": {"portName": "admin"},
                }
            },
        }
        for namespace in namespaces
        for i in range(per_namespace)
    ]
    started = time.perf_counter()
    create = clients.custom.create_namespaced_custom_object
    group, version, plural = "licensereport.io", "v1alpha1", "licensereportrequests"
    await asyncio.gather(
        *(
            kube.call(create, group, version, body["metadata"]["namespace"], plural, body)
            for body in bodies
        )
    )
    names = {(b["metadata"]["namespace"], b["metadata"]["name"]) for b in bodies}
    while True:
        sampler.sample()
        listing = await kube.call(
            clients.custom.list_cluster_custom_object,
            "licensereport.io", "v1alpha1", "licensereportrequests",
        )  # fmt: skip
        ended = {
            (item["metadata"]["namespace"], item["metadata"]["name"]): item["status"]["phase"]
            for item in listing["items"]
            if (item.get("status") or {}).get("phase") in TERMINAL
        }
        if names <= set(ended):
            break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    wrong = {key: phase for key, phase in ended.items() if key in names and phase != "Succeeded"}
    if wrong:
        raise RuntimeError(f"not Succeeded: {wrong}")
    return seconds, sampler.peak


async def main(namespace_count: int, per_namespace: int) -> None:
    namespaces = [f"tenant-{i:02d}" for i in range(namespace_count)]
    with process.spawn_fleet(count=2 * namespace_count, mode="ee-dbless") as fleet:
        async with operator_and_api() as (api, clients, sampler):
            for index, node in enumerate(fleet["nodes"]):
                namespace = namespaces[index // 2]
                api.put(kubeapi.make_namespace(namespace))
                url = urllib.parse.urlsplit(node["url"])
                api.put(
                    kubeapi.make_pod(
                        node["name"], namespace, labels={"tenant": namespace},
                        ip=url.hostname, node_name=f"machine-{index % 20}",
                        ports=[("admin", url.port or 8001)],
                    )
                )  # fmt: skip
            idle = sampler.sample()
            one = await _round(
                api, clients, sampler, namespaces=namespaces[:1], per_namespace=1, tag="one"
            )
            many = await _round(
                api, clients, sampler,
                namespaces=namespaces, per_namespace=per_namespace, tag="load",
            )  # fmt: skip

    mb = 1024 * 1024
    total = namespace_count * per_namespace
    print("| measurement | value |\n| --- | --- |")
    print(f"| when | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC} |")
    print(f"| operator RSS, idle | {idle / mb:.0f} MB |")
    print(f"| 1 request (baseline): creation to Succeeded | {one[0]:.2f} s |")
    print(f"| 1 request: operator peak RSS | {one[1] / mb:.0f} MB |")
    print(
        f"| {total} requests in {namespace_count} namespaces at once: all Succeeded "
        f"| {many[0]:.2f} s |"
    )
    print(f"| {total} requests: operator peak RSS | {many[1] / mb:.0f} MB |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--per-namespace", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.namespaces, args.per_namespace))
