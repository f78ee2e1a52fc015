"""The report ConfigMaps against an API server that enforces Kubernetes' size limits.

The emulated server refuses a ConfigMap whose data passes 1 MiB and any
object past etcd's 1.5 MiB, as a real one does, so "it was written" here
means "a cluster would have taken it".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import kmock
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from license_report.reconcile import kube, output
from license_report.report import aggregation, formats, packaging, signing
from license_report_sandbox import kubeapi
from tests.helpers.observations import inputs, observation

NAMESPACE = "kong"  # the one namespace the api fixture of this area's conftest holds
UID = "5f0c7a52-6c1e-4d7a-9d43-0a4f5b7f2a11"


def package(pods: int, *, prefix: str = "gw") -> packaging.Package:
    """A real report of ``pods`` gateway pods: nodes.json with their keyed hashes."""
    observations = [
        observation(f"{prefix}-{i:05}", host=f"machine-{i % 500}", host_cores=16)
        for i in range(pods)
    ]
    return packaging.package(aggregation.aggregate(inputs(observations)))


def layout(files: packaging.Package, **kwargs: Any) -> output.Layout:
    return output.layout(
        name="r-report", namespace=NAMESPACE, request="r", uid=UID, run="1/", package=files,
        **kwargs,
    )  # fmt: skip


async def read(clients: kube.Clients, name: str) -> Any:
    return await kube.call(clients.core.read_namespaced_config_map, name, NAMESPACE)


async def part_config_maps(clients: kube.Clients) -> set[str]:
    """The parts that hold something (a part no longer named is emptied)."""
    listing = await kube.call(
        clients.core.list_namespaced_config_map, NAMESPACE, label_selector=output.PART_LABEL
    )
    return {item.metadata.name for item in listing.items if item.data}


async def all_config_maps(clients: kube.Clients) -> int:
    return len((await kube.call(clients.core.list_namespaced_config_map, NAMESPACE)).items)


async def reassemble(clients: kube.Clients, main: Any) -> list[dict[str, Any]]:
    """nodes.json as a user rebuilds it: inline, or from the parts the index names."""
    if "nodes.json" in main.data:
        whole: list[dict[str, Any]] = json.loads(main.data["nodes.json"])
        return whole
    index = json.loads(main.data[output.NODES_INDEX])
    nodes: list[dict[str, Any]] = []
    for entry in index["parts"]:
        text = (await read(clients, entry["configMap"])).data["nodes.json"]
        assert hashlib.sha256(text.encode()).hexdigest() == entry["sha256"]
        assert len(json.loads(text)) == entry["pods"]
        nodes += json.loads(text)
    assert index["pods"] == len(nodes)
    return nodes


async def test_ten_thousand_pods_are_written_in_parts_a_cluster_accepts(
    clients: kube.Clients,
) -> None:
    files = package(10_000)
    assert len(files.nodes_json) > 4 * output.CONFIG_MAP_LIMIT  # far past one ConfigMap

    await output.write(clients=clients, layout=layout(files), uid=UID)

    main = await read(clients, "r-report")
    assert main.data["report.json"] == files.report_json.decode()
    assert main.metadata.annotations[output.SHA_ANNOTATION] == files.report_sha256
    assert await reassemble(clients, main) == json.loads(files.nodes_json)
    parts = await part_config_maps(clients)
    assert len(parts) >= 6
    for name in parts:  # each owned by the request, so it goes with it
        (owner,) = (await read(clients, name)).metadata.owner_references
        assert (owner.uid, owner.kind) == (UID, "LicenseReportRequest")


async def test_a_fleet_that_fits_keeps_nodes_json_inline(clients: kube.Clients) -> None:
    files = package(50)
    await output.write(clients=clients, layout=layout(files), uid=UID)
    main = await read(clients, "r-report")
    assert main.data["nodes.json"] == files.nodes_json.decode()
    assert output.NODES_INDEX not in main.data
    assert await part_config_maps(clients) == set()


async def test_a_signed_report_has_its_signature_and_public_key_beside_it(
    clients: kube.Clients,
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    observations = [observation(f"gw-{i}") for i in range(3)]
    files = packaging.package(
        aggregation.aggregate(inputs(observations)),
        format=formats.Format.KONG_3_5,
        signing_key=key,
    )
    await output.write(clients=clients, layout=layout(files), uid=UID)
    main = await read(clients, "r-report")
    report = main.data["report.json"].encode()
    assert report == files.report_json
    public = signing.load_public_key(main.data["report.json.pub"])
    signature = signing.parse_signature(main.data["report.json.sig"].encode())
    assert signing.verify(public_key=public, data=report, signature=signature)
    assert main.metadata.annotations[output.SHA_ANNOTATION] == hashlib.sha256(report).hexdigest()


async def test_an_unsigned_report_has_no_signature_keys(clients: kube.Clients) -> None:
    await output.write(clients=clients, layout=layout(package(3)), uid=UID)
    data = (await read(clients, "r-report")).data
    assert "report.json.sig" not in data
    assert "report.json.pub" not in data


async def test_reruns_alternate_two_sets_of_parts_and_empty_the_one_no_longer_named(
    clients: kube.Clients,
) -> None:
    budget = 20_000
    await output.write(clients=clients, layout=layout(package(150), budget=budget), uid=UID)
    first = await part_config_maps(clients)
    assert all("-nodes-a-" in name for name in first)
    most = len(first)

    for run, (pods, prefix) in enumerate([(120, "second"), (140, "third"), (150, "fourth")]):
        files = package(pods, prefix=prefix)
        await output.write(clients=clients, layout=layout(files, budget=budget), uid=UID)
        main = await read(clients, "r-report")
        assert await reassemble(clients, main) == json.loads(files.nodes_json)
        # Only the parts the report names hold anything; the others were emptied.
        assert await part_config_maps(clients) == set(output.part_names(main))
        assert all(f"-nodes-{'ba'[run % 2]}-" in name for name in output.part_names(main))
        most = max(most, len(output.part_names(main)))
    # Never deleted, never more than two sets: the count stays bounded across reruns.
    assert await all_config_maps(clients) <= 1 + 2 * most

    # Back to a fleet that fits: every part is emptied.
    await output.write(clients=clients, layout=layout(package(3)), uid=UID)
    assert await part_config_maps(clients) == set()


async def test_a_failed_write_leaves_the_previous_report_and_its_parts_whole(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    budget = 20_000
    before = package(150)
    await output.write(clients=clients, layout=layout(before, budget=budget), uid=UID)
    parts_before = await part_config_maps(clients)

    def replacing_the_report(request: kmock.Request) -> bool:
        return request.method == kmock.method.PUT and request.name == "r-report"

    api.emulator[replacing_the_report] << 500
    with pytest.raises(kube.ApiError) as failed:
        await output.write(
            clients=clients, layout=layout(package(130, prefix="new"), budget=budget), uid=UID
        )
    assert failed.value.status == 500

    main = await read(clients, "r-report")
    assert main.metadata.annotations[output.SHA_ANNOTATION] == before.report_sha256
    assert await reassemble(clients, main) == json.loads(before.nodes_json)
    assert set(output.part_names(main)) == parts_before  # the new set is not named


async def test_a_config_map_of_someone_else_is_left_alone(
    api: kubeapi.KubeAPI, clients: kube.Clients
) -> None:
    metadata = {"name": "r-report", "namespace": NAMESPACE}
    api.put(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"mine": "yes"}}
    )
    with pytest.raises(output.NotOurs, match="kong/r-report exists and is not owned"):
        await output.write(clients=clients, layout=layout(package(150), budget=20_000), uid=UID)
    assert (await read(clients, "r-report")).data == {"mine": "yes"}
    assert await part_config_maps(clients) == set()
