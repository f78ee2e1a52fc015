"""The emulated API server behaves as a real one where an operator looks, over real HTTP(S).

Each test drives the emulator through the ``kubernetes`` client or raw aiohttp
and checks what a real kube-apiserver would answer; the stock kmock emulator
fails most of them (no uid/resourceVersion/generation, no selectors, no
/status separation, no PUT, 200 on create, no GC...).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import io
import json
import pathlib
import re
import ssl
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import kmock
import kopf
import kubernetes.client
import kubernetes.config
import pytest

from license_report_sandbox import kubeapi
from license_report_sandbox.kubeapi import store

GROUP, VERSION, PLURAL = "licensereport.io", "v1alpha1", "licensereportrequests"
LRR_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/kong/{PLURAL}"
MERGE = "application/merge-patch+json"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

Json = Any


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Json = None,
    *,
    content_type: str = "application/json",
    params: Mapping[str, str] | None = None,
) -> tuple[int, Json]:
    data = None if body is None else io.BytesIO(json.dumps(body).encode())
    headers = {"Content-Type": content_type} if data is not None else {}
    async with http.request(method, path, data=data, headers=headers, params=params) as response:
        return response.status, await response.json(content_type=None)


def lrr(name: str, **spec: Json) -> dict[str, Json]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LicenseReportRequest",
        "metadata": {"name": name, "namespace": "kong"},
        "spec": {"gateway": {"selector": {"matchLabels": {"app": "kong"}}}, **spec},
    }


def meta(obj: Mapping[str, Json]) -> Mapping[str, Json]:
    found = obj["metadata"]
    assert isinstance(found, Mapping)
    return found


async def k8s(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
    """Call the synchronous ``kubernetes`` client off the event loop (the emulator runs on it).

    What the client returns has passed its pydantic validation; it comes back as
    the client's plain dict (snake_case keys) so that assertions read simply.
    """
    result = await asyncio.to_thread(call, *args, **kwargs)
    return result.to_dict() if hasattr(result, "to_dict") else result


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Json]]:
    events: list[dict[str, Json]] = []
    async with asyncio.timeout(5):
        while len(events) < count:
            line = await response.content.readline()
            assert line, f"the watch ended after {events}"
            events.append(json.loads(line))
    return events


@pytest.fixture
def crd(cluster: kubeapi.KubeAPI, lrr_crd: dict[str, Json]) -> dict[str, Json]:
    cluster.register_crd(lrr_crd)
    return lrr_crd


# --- server-set metadata ---------------------------------------------------------------------


async def test_create_answers_201_with_server_metadata(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    status, created = await call(kube_http, "POST", LRR_PATH, lrr("r1"))

    assert status == 201
    assert created["kind"] == "LicenseReportRequest"
    assert meta(created)["namespace"] == "kong"  # from the URL; the body's was the same
    assert uuid.UUID(meta(created)["uid"]).version == 4
    assert meta(created)["resourceVersion"].isdigit()
    assert meta(created)["generation"] == 1
    assert TIMESTAMP.match(meta(created)["creationTimestamp"])
    moment = datetime.datetime.fromisoformat(
        meta(created)["creationTimestamp"].replace("Z", "+00:00")
    )
    assert abs((datetime.datetime.now(datetime.UTC) - moment).total_seconds()) < 5

    status, fetched = await call(kube_http, "GET", f"{LRR_PATH}/r1")
    assert status == 200
    assert fetched == created


async def test_namespace_comes_from_the_url_and_a_different_one_is_refused(
    kube_http: aiohttp.ClientSession,
) -> None:
    status, created = await call(
        kube_http, "POST", "/api/v1/namespaces/kong/configmaps", {"metadata": {"name": "a"}}
    )
    assert status == 201
    assert meta(created)["namespace"] == "kong"
    assert "generation" not in meta(created)  # ConfigMaps have none on a real server either

    wrong = {"metadata": {"name": "b", "namespace": "other"}}
    status, error = await call(kube_http, "POST", "/api/v1/namespaces/kong/configmaps", wrong)
    assert (status, error["kind"], error["reason"]) == (400, "Status", "BadRequest")


async def test_every_write_moves_the_resource_version_and_lists_carry_it(
    kube_http: aiohttp.ClientSession,
) -> None:
    path = "/api/v1/namespaces/kong/configmaps"
    _, first = await call(kube_http, "POST", path, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    _, second = await call(kube_http, "POST", path, {"metadata": {"name": "b"}})
    _, patched = await call(
        kube_http, "PATCH", f"{path}/a", {"data": {"k": "2"}}, content_type=MERGE
    )
    versions = [int(meta(obj)["resourceVersion"]) for obj in (first, second, patched)]
    assert versions == sorted(set(versions))

    status, listing = await call(kube_http, "GET", path)
    assert status == 200
    assert listing["kind"] == "ConfigMapList"
    assert int(listing["metadata"]["resourceVersion"]) == versions[-1]
    assert [meta(item)["name"] for item in listing["items"]] == ["a", "b"]


async def test_a_write_that_changes_nothing_keeps_the_resource_version(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    _, created = await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    _, same = await call(
        kube_http, "PATCH", f"{LRR_PATH}/r1", {"spec": created["spec"]}, content_type=MERGE
    )
    assert meta(same)["resourceVersion"] == meta(created)["resourceVersion"]


async def test_generation_counts_spec_changes_only(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    obj = f"{LRR_PATH}/r1"
    _, created = await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    _, spec = await call(
        kube_http, "PATCH", obj, {"spec": {"report": {"months": 6}}}, content_type=MERGE
    )
    labels = {"metadata": {"labels": {"a": "b"}, "annotations": {"licensereport.io/rerun": "1"}}}
    _, metadata = await call(kube_http, "PATCH", obj, labels, content_type=MERGE)
    _, status = await call(
        kube_http, "PATCH", f"{obj}/status", {"status": {"phase": "Running"}}, content_type=MERGE
    )

    assert [meta(o)["generation"] for o in (created, spec, metadata, status)] == [1, 2, 2, 2]
    versions = [int(meta(o)["resourceVersion"]) for o in (created, spec, metadata, status)]
    assert versions == sorted(set(versions))  # every one of them was a write
    assert status["status"] == {"phase": "Running"}
    assert meta(status)["labels"] == {"a": "b"}


# --- create ----------------------------------------------------------------------------------


async def test_create_of_a_taken_name_answers_409_already_exists(
    core: kubernetes.client.CoreV1Api,
) -> None:
    body = {"metadata": {"name": "taken"}, "data": {"k": "v"}}
    await k8s(core.create_namespaced_config_map, "kong", body)

    with pytest.raises(kubernetes.client.ApiException) as raised:
        await k8s(core.create_namespaced_config_map, "kong", body)

    assert raised.value.status == 409
    error = json.loads(str(raised.value.body))
    assert (error["kind"], error["reason"]) == ("Status", "AlreadyExists")
    assert error["message"] == 'configmaps "taken" already exists'


async def test_generate_name_appends_five_random_characters(
    core: kubernetes.client.CoreV1Api,
) -> None:
    body = {"metadata": {"generateName": "report-"}}
    names = {
        (await k8s(core.create_namespaced_config_map, "kong", body))["metadata"]["name"]
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(re.fullmatch(r"report-[a-z0-9]{5}", name) for name in names)


async def test_create_without_name_or_generate_name_is_invalid(
    kube_http: aiohttp.ClientSession,
) -> None:
    status, error = await call(
        kube_http, "POST", "/api/v1/namespaces/kong/configmaps", {"data": {}}
    )
    assert (status, error["reason"]) == (422, "Invalid")


# --- replace and optimistic concurrency ------------------------------------------------------


async def test_put_replaces_and_a_stale_resource_version_answers_409(
    kube_http: aiohttp.ClientSession,
) -> None:
    path = "/api/v1/namespaces/kong/configmaps"
    _, created = await call(
        kube_http, "POST", path, {"metadata": {"name": "a"}, "data": {"k": "1", "x": "y"}}
    )
    stale = meta(created)["resourceVersion"]
    replacement = {**created, "data": {"k": "2"}}

    status, replaced = await call(kube_http, "PUT", f"{path}/a", replacement)
    assert status == 200
    assert replaced["data"] == {"k": "2"}  # replaced, not merged
    assert meta(replaced)["uid"] == meta(created)["uid"]
    assert int(meta(replaced)["resourceVersion"]) > int(stale)

    status, error = await call(kube_http, "PUT", f"{path}/a", {**replacement, "data": {"k": "3"}})
    assert (status, error["kind"], error["reason"]) == (409, "Status", "Conflict")
    assert "the object has been modified" in error["message"]

    stale_patch = {"metadata": {"resourceVersion": stale}, "data": {"k": "4"}}
    status, error = await call(kube_http, "PATCH", f"{path}/a", stale_patch, content_type=MERGE)
    assert (status, error["reason"]) == (409, "Conflict")

    _, current = await call(kube_http, "GET", f"{path}/a")
    assert current["data"] == {"k": "2"}


async def test_config_maps_over_1_mib_and_objects_over_etcds_limit_are_refused(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    path = "/api/v1/namespaces/kong/configmaps"
    limit = 1024 * 1024
    fits = {"metadata": {"name": "fits"}, "data": {"a": "x" * (limit - 1)}}
    assert (await call(kube_http, "POST", path, fits))[0] == 201
    # binaryData counts decoded: 900 KiB of bytes is 1.2 MB of base64 and fits.
    binary = base64.b64encode(b"\0" * (900 * 1024)).decode()
    assert (
        await call(
            kube_http, "POST", path, {"metadata": {"name": "bin"}, "binaryData": {"b": binary}}
        )
    )[0] == 201

    over = {"metadata": {"name": "over"}, "data": {"a": "x" * limit, "b": "y"}}
    status, error = await call(kube_http, "POST", path, over)
    assert (status, error["reason"]) == (422, "Invalid")
    assert error["message"] == (
        'ConfigMap "over" is invalid: []: Too long: may not be more than 1048576 bytes'
    )
    # An update past the limit is refused too, and the stored object stays as it was.
    status, _ = await call(
        kube_http, "PATCH", f"{path}/fits", {"data": {"b": "yy"}}, content_type=MERGE
    )
    assert status == 422
    _, current = await call(kube_http, "GET", f"{path}/fits")
    assert set(current["data"]) == {"a"}

    # Any object (here a custom resource's status) must fit etcd's 1.5 MiB request limit.
    await call(kube_http, "POST", LRR_PATH, lrr("huge"))
    notes = ["n" * 1000] * 1600
    status, error = await call(
        kube_http,
        "PATCH",
        f"{LRR_PATH}/huge/status",
        {"status": {"notes": notes}},
        content_type=MERGE,
    )
    assert (status, error["message"]) == (500, "etcdserver: request is too large")


async def test_put_of_a_custom_resource_needs_a_resource_version(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    status, error = await call(kube_http, "PUT", f"{LRR_PATH}/r1", lrr("r1", report={"months": 3}))
    assert (status, error["reason"]) == (422, "Invalid")


async def test_put_of_a_missing_object_answers_404(kube_http: aiohttp.ClientSession) -> None:
    body = {"metadata": {"name": "ghost"}}
    status, error = await call(kube_http, "PUT", "/api/v1/namespaces/kong/configmaps/ghost", body)
    assert (status, error["reason"]) == (404, "NotFound")


# --- patch content types ---------------------------------------------------------------------


async def test_json_patch_applies_and_a_dict_sent_as_json_patch_is_refused(
    kube_http: aiohttp.ClientSession,
) -> None:
    path = "/api/v1/namespaces/kong/configmaps"
    await call(kube_http, "POST", path, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    ops = [
        {"op": "replace", "path": "/data/k", "value": "2"},
        {"op": "add", "path": "/data/n", "value": "3"},
    ]
    status, patched = await call(
        kube_http, "PATCH", f"{path}/a", ops, content_type="application/json-patch+json"
    )
    assert (status, patched["data"]) == (200, {"k": "2", "n": "3"})

    status, error = await call(
        kube_http, "PATCH", f"{path}/a", {"data": {}}, content_type="application/json-patch+json"
    )
    assert (status, error["reason"]) == (400, "BadRequest")

    status, error = await call(
        kube_http, "PATCH", f"{path}/a", {"data": {}}, content_type="text/plain"
    )
    assert (status, error["reason"]) == (415, "UnsupportedMediaType")


async def test_strategic_merge_patch_merges_lists_by_the_key_kubectl_names(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession
) -> None:
    cluster.put(kubeapi.make_pod("kong-1", "kong", labels={"app": "kong"}))
    patch = {
        "$setElementOrder/containers": [{"name": "proxy"}],
        "containers": [{"name": "proxy", "image": "kong/kong-gateway:3.5"}],
    }
    status, patched = await call(
        kube_http,
        "PATCH",
        "/api/v1/namespaces/kong/pods/kong-1",
        {"spec": patch},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 200
    (container,) = patched["spec"]["containers"]
    assert container["image"] == "kong/kong-gateway:3.5"
    assert [p["name"] for p in container["ports"]] == [name for name, _ in kubeapi.KONG_PORTS]
    assert not any(key.startswith("$") for key in patched["spec"])


# --- the status subresource ------------------------------------------------------------------


async def test_writes_to_the_object_ignore_status_and_writes_to_status_touch_only_status(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    obj = f"{LRR_PATH}/r1"
    _, created = await call(
        kube_http, "POST", LRR_PATH, {**lrr("r1"), "status": {"phase": "Forged"}}
    )
    assert "status" not in created  # a real server drops it on create, too

    kopf_style = {"status": {"phase": "Running", "observedGeneration": 1}}
    status, patched = await call(
        kube_http, "PATCH", f"{obj}/status", kopf_style, content_type=MERGE
    )
    assert status == 200
    assert patched["status"] == {"phase": "Running", "observedGeneration": 1}

    status, main = await call(
        kube_http,
        "PATCH",
        obj,
        {"status": {"phase": "Failed"}, "spec": {"report": {"months": 2}}},
        content_type=MERGE,
    )
    assert status == 200
    assert main["status"]["phase"] == "Running"  # ignored on the object...
    assert main["spec"]["report"] == {"months": 2}  # ...while the rest of the write applies

    sneaky = {
        "spec": {"report": {"months": 99}},
        "metadata": {"labels": {"x": "y"}},
        "status": {"phase": "Succeeded"},
    }
    status, via_status = await call(kube_http, "PATCH", f"{obj}/status", sneaky, content_type=MERGE)
    assert status == 200
    assert via_status["status"]["phase"] == "Succeeded"
    assert via_status["spec"]["report"] == {"months": 2}  # ignored on /status
    assert "labels" not in meta(via_status)
    assert meta(via_status)["generation"] == 2

    _, put = await call(
        kube_http, "PUT", f"{obj}/status", {**via_status, "status": {"phase": "Degraded"}}
    )
    assert put["status"] == {"phase": "Degraded"}


async def test_pod_status_is_a_subresource_too(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    cluster.put(kubeapi.make_pod("kong-1", "kong", ip="127.0.0.2", node_name="node-1"))
    await k8s(core.patch_namespaced_pod, "kong-1", "kong", {"status": {"podIP": "10.9.9.9"}})
    pod = await k8s(core.read_namespaced_pod, "kong-1", "kong")
    assert pod["status"]["pod_ip"] == "127.0.0.2"

    await k8s(core.patch_namespaced_pod_status, "kong-1", "kong", {"status": {"phase": "Failed"}})
    pod = await k8s(core.read_namespaced_pod, "kong-1", "kong")
    assert (pod["status"]["phase"], pod["status"]["pod_ip"]) == ("Failed", "127.0.0.2")


# --- selectors -------------------------------------------------------------------------------

LABELLED = {
    "kong-a": {"app": "kong", "tier": "gw", "release": "one"},
    "kong-b": {"app": "kong", "tier": "cp"},
    "kong-c": {"app": "kong", "release": "two"},
    "db": {"app": "postgres", "release": "one"},
    "bare": {},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=kong", {"kong-a", "kong-b", "kong-c"}),
        ("app==kong", {"kong-a", "kong-b", "kong-c"}),
        ("app!=kong", {"db", "bare"}),
        ("app=kong,tier=gw", {"kong-a"}),
        ("app in (kong, postgres),release", {"kong-a", "kong-c", "db"}),
        ("release notin (one)", {"kong-b", "kong-c", "bare"}),
        ("tier", {"kong-a", "kong-b"}),
        ("!tier", {"kong-c", "db", "bare"}),
        ("app=kong,!release", {"kong-b"}),
        ("app in (kong),tier notin (cp)", {"kong-a", "kong-c"}),
        ("", set(LABELLED)),
    ],
)
async def test_label_selectors_on_list(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api, selector: str, expected: set[str]
) -> None:
    for name, labels in LABELLED.items():
        cluster.put(kubeapi.make_pod(name, "kong", labels=labels))
    cluster.put(kubeapi.make_pod("elsewhere", "other", labels={"app": "kong", "tier": "gw"}))

    pods = await k8s(core.list_namespaced_pod, "kong", label_selector=selector)

    assert {pod["metadata"]["name"] for pod in pods["items"]} == expected


async def test_lists_are_paged_by_limit_and_continue(kube_http: aiohttp.ClientSession) -> None:
    path = "/api/v1/namespaces/kong/configmaps"
    for i in range(7):
        await call(kube_http, "POST", path, {"metadata": {"name": f"c{i}"}})
    names: list[str] = []
    params = {"limit": "3"}
    remaining = []
    while True:
        status, page = await call(kube_http, "GET", path, params=params)
        assert status == 200
        names += [meta(item)["name"] for item in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        remaining.append(page["metadata"]["remainingItemCount"])
        params = {"limit": "3", "continue": token}
    assert names == [f"c{i}" for i in range(7)]
    assert remaining == [4, 1]
    status, error = await call(kube_http, "GET", path, params={"continue": "nonsense"})
    assert (status, error["reason"]) == (400, "BadRequest")


async def test_a_paged_list_pages_the_snapshot_of_its_first_page(
    kube_http: aiohttp.ClientSession,
) -> None:
    """As a real server pages etcd at the first page's revision: an object created between
    pages is not in the later pages (and a list started afterwards has it). The emulator
    keeps the first page's selection for the rest, rather than selecting again per page."""
    path = "/api/v1/namespaces/kong/configmaps"
    for i in range(4):
        await call(kube_http, "POST", path, {"metadata": {"name": f"c{i}"}})
    _, first = await call(kube_http, "GET", path, params={"limit": "2"})
    await call(kube_http, "POST", path, {"metadata": {"name": "c9"}})
    token = first["metadata"]["continue"]
    _, second = await call(kube_http, "GET", path, params={"limit": "2", "continue": token})

    assert [meta(item)["name"] for item in second["items"]] == ["c2", "c3"]
    assert "continue" not in second["metadata"]
    _, fresh = await call(kube_http, "GET", path)
    assert [meta(item)["name"] for item in fresh["items"]] == ["c0", "c1", "c2", "c3", "c9"]


@pytest.mark.parametrize(
    "selector", ["=kong", "app in (", "app in ()", "app=a=b", "a b", "app notin x", "-x=y", "a,,b"]
)
async def test_an_invalid_selector_answers_400(
    kube_http: aiohttp.ClientSession, selector: str
) -> None:
    status, error = await call(kube_http, "GET", "/api/v1/pods", params={"labelSelector": selector})
    assert (status, error["reason"]) == (400, "BadRequest")


async def test_field_selectors_on_name_namespace_and_pod_fields(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api, kube_http: aiohttp.ClientSession
) -> None:
    cluster.put(kubeapi.make_pod("a", "kong", node_name="node-1"))
    cluster.put(kubeapi.make_pod("b", "kong", node_name="node-2", phase="Pending"))
    cluster.put(kubeapi.make_pod("a", "other", node_name="node-1"))

    def names(pods: Json) -> list[tuple[str, str]]:
        return sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods["items"])

    by_name = await k8s(core.list_pod_for_all_namespaces, field_selector="metadata.name=a")
    assert names(by_name) == [("kong", "a"), ("other", "a")]
    by_ns = await k8s(core.list_pod_for_all_namespaces, field_selector="metadata.namespace==other")
    assert names(by_ns) == [("other", "a")]
    running_on_1 = await k8s(
        core.list_namespaced_pod,
        "kong",
        field_selector="spec.nodeName=node-1,status.phase!=Pending",
    )
    assert names(running_on_1) == [("kong", "a")]

    status, error = await call(
        kube_http, "GET", "/api/v1/pods", params={"fieldSelector": "spec.unknown=x"}
    )
    assert (status, error["reason"]) == (400, "BadRequest")


# --- watches ---------------------------------------------------------------------------------


async def test_a_watch_from_the_list_version_sees_only_later_changes_through_its_selector(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession
) -> None:
    cluster.put(kubeapi.make_pod("old", "kong", labels={"app": "kong"}))
    _, listing = await call(kube_http, "GET", "/api/v1/namespaces/kong/pods")
    since = listing["metadata"]["resourceVersion"]
    params = {
        "watch": "true",
        "resourceVersion": since,
        "labelSelector": "app=kong",
        "timeoutSeconds": "5",
    }

    async with kube_http.get("/api/v1/namespaces/kong/pods", params=params) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        cluster.put(kubeapi.make_pod("other-app", "kong", labels={"app": "postgres"}))
        cluster.put(kubeapi.make_pod("other-ns", "default", labels={"app": "kong"}))
        cluster.put(kubeapi.make_pod("new", "kong", labels={"app": "kong"}))
        patch = {"metadata": {"labels": {"release": "x"}}}
        await call(
            kube_http, "PATCH", "/api/v1/namespaces/kong/pods/new", patch, content_type=MERGE
        )
        leave = {"metadata": {"labels": {"app": "gone"}}}
        await call(
            kube_http, "PATCH", "/api/v1/namespaces/kong/pods/old", leave, content_type=MERGE
        )
        await call(kube_http, "DELETE", "/api/v1/namespaces/kong/pods/new")
        events = await read_events(response, 4)

    assert [(e["type"], meta(e["object"])["name"]) for e in events] == [
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "old"),  # left the selector: deleted for this watcher, as in Kubernetes
        ("DELETED", "new"),
    ]
    versions = [int(meta(e["object"])["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert versions[0] > int(since)


async def test_a_watch_without_version_starts_with_the_existing_objects(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession
) -> None:
    cluster.put(kubeapi.make_pod("a", "kong", labels={"app": "kong"}))
    cluster.put(kubeapi.make_pod("b", "kong", labels={"app": "other"}))
    params = {"watch": "true", "labelSelector": "app in (kong)", "timeoutSeconds": "5"}
    async with kube_http.get("/api/v1/pods", params=params) as response:
        (event,) = await read_events(response, 1)
        cluster.put(kubeapi.make_pod("c", "kong", labels={"app": "kong"}))
        (later,) = await read_events(response, 1)
    assert (event["type"], meta(event["object"])["name"]) == ("ADDED", "a")
    assert (later["type"], meta(later["object"])["name"]) == ("ADDED", "c")


async def test_a_watch_ends_after_its_timeout(kube_http: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    params = {"watch": "true", "resourceVersion": "1", "timeoutSeconds": "1"}
    async with kube_http.get("/api/v1/namespaces/kong/configmaps", params=params) as response:
        assert await response.read() == b""
    assert 0.9 < loop.time() - started < 3


async def test_a_watch_from_a_forgotten_version_gets_410_gone() -> None:
    emulator = kubeapi.Emulator(store=store.Store(history=3))
    async with kubeapi.serve(tls=False, auth=False, emulator=emulator) as api:
        for index in range(6):
            api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{index}"}})
        async with aiohttp.ClientSession(api.url) as http:
            params = {"watch": "true", "resourceVersion": "1", "timeoutSeconds": "5"}
            async with http.get("/api/v1/configmaps", params=params) as response:
                (event,) = await read_events(response, 1)
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


@pytest.mark.parametrize("reset", [False, True], ids=["ended", "dropped"])
async def test_cut_watches_ends_every_open_stream_and_a_new_watch_replays_what_it_missed(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession, reset: bool
) -> None:
    def config_map(name: str) -> Json:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "kong"},
        }

    _, listing = await call(kube_http, "GET", "/api/v1/namespaces/kong/configmaps")
    params = {"watch": "true", "resourceVersion": listing["metadata"]["resourceVersion"]}
    path = "/api/v1/namespaces/kong/configmaps"
    async with (
        kube_http.get(path, params=params) as first,
        kube_http.get("/api/v1/pods", params={"watch": "true"}) as second,
    ):
        cluster.put(config_map("a"))
        cluster.put(kubeapi.make_pod("p", "kong"))
        (seen,) = await read_events(first, 1)
        await read_events(second, 1)  # both streams are being followed
        assert cluster.cut_watches(reset=reset) == 2
        # Written after the cut, before any new watch: nobody is watching.
        cluster.put(config_map("b"))
        for response in (first, second):
            if reset:
                with pytest.raises(aiohttp.ClientError):
                    await asyncio.wait_for(response.read(), timeout=5)
            else:
                await asyncio.wait_for(response.read(), timeout=5)  # ends: no error, no hang
    assert cluster.cut_watches(reset=reset) == 0  # none left open
    params["resourceVersion"] = meta(seen["object"])["resourceVersion"]
    params["timeoutSeconds"] = "5"
    async with kube_http.get(path, params=params) as again:
        (missed,) = await read_events(again, 1)
    assert (missed["type"], meta(missed["object"])["name"]) == ("ADDED", "b")


# --- deletion, finalizers, garbage collection ------------------------------------------------


async def test_delete_answers_the_object_or_a_status_as_the_real_server_does(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    status, deleted = await call(kube_http, "DELETE", f"{LRR_PATH}/r1")
    assert (status, deleted["kind"], meta(deleted)["name"]) == (200, "LicenseReportRequest", "r1")
    status, _ = await call(kube_http, "GET", f"{LRR_PATH}/r1")
    assert status == 404

    await call(kube_http, "POST", "/api/v1/namespaces/kong/configmaps", {"metadata": {"name": "c"}})
    status, deleted = await call(kube_http, "DELETE", "/api/v1/namespaces/kong/configmaps/c")
    assert (status, deleted["kind"], deleted["status"]) == (200, "Status", "Success")

    status, error = await call(kube_http, "DELETE", "/api/v1/namespaces/kong/configmaps/c")
    assert (status, error["reason"], error["message"]) == (
        404,
        "NotFound",
        'configmaps "c" not found',
    )


async def test_finalizers_hold_a_deleted_object_until_the_last_one_is_removed(
    kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    body = lrr("r1")
    body["metadata"]["finalizers"] = ["kopf.zalando.org/KopfFinalizerMarker"]
    await call(kube_http, "POST", LRR_PATH, body)

    status, marked = await call(kube_http, "DELETE", f"{LRR_PATH}/r1")
    assert status == 200
    assert TIMESTAMP.match(meta(marked)["deletionTimestamp"])
    status, _ = await call(kube_http, "GET", f"{LRR_PATH}/r1")
    assert status == 200

    release = {"metadata": {"finalizers": None}}
    status, _ = await call(kube_http, "PATCH", f"{LRR_PATH}/r1", release, content_type=MERGE)
    assert status == 200
    status, _ = await call(kube_http, "GET", f"{LRR_PATH}/r1")
    assert status == 404


async def test_garbage_collection_follows_owner_references(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    _, owner = await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    _, other = await call(kube_http, "POST", LRR_PATH, lrr("r2"))

    def ref(obj: Json) -> dict[str, Json]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "LicenseReportRequest",
            "name": meta(obj)["name"],
            "uid": meta(obj)["uid"],
            "controller": True,
        }

    path = "/api/v1/namespaces/kong/configmaps"
    await call(
        kube_http, "POST", path, {"metadata": {"name": "owned", "ownerReferences": [ref(owner)]}}
    )
    shared = {
        "name": "shared",
        "ownerReferences": [ref(owner), {**ref(other), "controller": False}],
    }
    await call(kube_http, "POST", path, {"metadata": shared})
    await call(kube_http, "POST", path, {"metadata": {"name": "free"}})

    await call(kube_http, "DELETE", f"{LRR_PATH}/r1")

    _, listing = await call(kube_http, "GET", path)
    left = {meta(item)["name"]: item for item in listing["items"]}
    assert set(left) == {"shared", "free"}
    assert [r["name"] for r in meta(left["shared"])["ownerReferences"]] == ["r2"]

    status, _ = await call(
        kube_http, "DELETE", f"{LRR_PATH}/r2", params={"propagationPolicy": "Orphan"}
    )
    assert status == 200
    _, orphaned = await call(kube_http, "GET", f"{path}/shared")
    assert "ownerReferences" not in meta(orphaned)


# --- namespaces ------------------------------------------------------------------------------


async def test_namespaces_list_the_created_the_used_and_default(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    created = await k8s(core.create_namespace, {"metadata": {"name": "team-a"}})
    assert created["status"]["phase"] == "Active"
    cluster.put(kubeapi.make_pod("kong-1", "kong"))

    namespaces = await k8s(core.list_namespace)
    assert {ns["metadata"]["name"] for ns in namespaces["items"]} == {"default", "team-a", "kong"}
    assert namespaces["metadata"]["resource_version"]

    kong = await k8s(core.read_namespace, "kong")
    assert kong["metadata"]["uid"]

    await k8s(core.delete_namespace, "kong")
    pods = await k8s(core.list_pod_for_all_namespaces)
    assert pods["items"] == []  # a namespace takes its objects with it


# --- custom resources and discovery ----------------------------------------------------------


async def test_posting_a_crd_serves_it_and_shows_it_in_discovery(
    kube_http: aiohttp.ClientSession, lrr_crd: Json
) -> None:
    status, stored = await call(
        kube_http, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", lrr_crd
    )
    assert status == 201
    conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}

    _, groups = await call(kube_http, "GET", "/apis")
    (group,) = [g for g in groups["groups"] if g["name"] == GROUP]
    assert group["preferredVersion"] == {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}
    _, group_doc = await call(kube_http, "GET", f"/apis/{GROUP}")
    assert group_doc["kind"] == "APIGroup"
    assert [v["version"] for v in group_doc["versions"]] == [VERSION]

    _, resources = await call(kube_http, "GET", f"/apis/{GROUP}/{VERSION}")
    assert resources["groupVersion"] == f"{GROUP}/{VERSION}"
    entries = {entry["name"]: entry for entry in resources["resources"]}
    assert set(entries) == {PLURAL, f"{PLURAL}/status"}
    main = entries[PLURAL]
    assert (main["kind"], main["singularName"], main["namespaced"]) == (
        "LicenseReportRequest",
        "licensereportrequest",
        True,
    )
    assert (main["shortNames"], main["categories"]) == (["lrr"], ["kong"])
    assert set(main["verbs"]) >= {"create", "get", "list", "watch", "patch", "update", "delete"}
    assert set(entries[f"{PLURAL}/status"]["verbs"]) == {"get", "patch", "update"}

    status, _ = await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    assert status == 201


async def test_core_discovery_says_v1_and_lists_the_built_ins(
    kube_http: aiohttp.ClientSession,
) -> None:
    _, versions = await call(kube_http, "GET", "/api")
    assert versions["versions"] == ["v1"]
    _, core_list = await call(kube_http, "GET", "/api/v1")
    assert core_list["groupVersion"] == "v1"  # stock kmock says "/v1"
    names = {entry["name"] for entry in core_list["resources"]}
    assert names >= {
        "namespaces",
        "pods",
        "pods/status",
        "nodes",
        "nodes/status",
        "configmaps",
        "secrets",
        "events",
        "serviceaccounts",
    }
    _, groups = await call(kube_http, "GET", "/apis")
    assert {g["name"] for g in groups["groups"]} >= {"apiextensions.k8s.io", "events.k8s.io"}


async def test_deleting_a_crd_stops_serving_it_and_deletes_its_objects(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    await call(kube_http, "POST", LRR_PATH, lrr("r1"))
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    status, _ = await call(kube_http, "DELETE", f"{crds}/{PLURAL}.{GROUP}")
    assert status == 200
    status, _ = await call(kube_http, "GET", LRR_PATH)
    assert status == 404
    assert not [
        key for key, obj in cluster.objects.items() if key[0].group == GROUP and not obj.deleted
    ]


async def test_custom_objects_through_the_kubernetes_client(
    cluster: kubeapi.KubeAPI, crd: Json
) -> None:
    custom = kubernetes.client.CustomObjectsApi(cluster.client())
    await k8s(custom.create_namespaced_custom_object, GROUP, VERSION, "kong", PLURAL, lrr("r1"))
    await k8s(
        custom.patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        "kong",
        PLURAL,
        "r1",
        {"status": {"phase": "Succeeded"}},
    )
    listing = await k8s(
        custom.list_namespaced_custom_object, GROUP, VERSION, "kong", PLURAL, label_selector=""
    )
    (item,) = listing["items"]
    assert item["status"] == {"phase": "Succeeded"}
    assert item["metadata"]["generation"] == 1


# --- events, built-ins, credentials ----------------------------------------------------------


async def test_events_can_be_posted_in_both_apis(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    involved = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LicenseReportRequest",
        "name": "r1",
        "namespace": "kong",
    }
    core_event = {
        "metadata": {"generateName": "r1."},
        "involvedObject": involved,
        "reason": "Logging",
        "message": "report written",
        "type": "Normal",
        "source": {"component": "kopf"},
    }
    created = await k8s(core.create_namespaced_event, "kong", core_event)
    assert created["metadata"]["name"].startswith("r1.")

    events_api = kubernetes.client.EventsV1Api(cluster.client())
    new_style = {
        "metadata": {"name": "r1.x"},
        "eventTime": "2026-11-27T05:00:00.000000Z",
        "regarding": involved,
        "reason": "Logging",
        "note": "report written",
        "type": "Normal",
        "action": "Report",
        "reportingController": "licensereport.io/operator",
        "reportingInstance": "operator-0",
    }
    await k8s(events_api.create_namespaced_event, "kong", new_style)
    listed = await k8s(core.list_namespaced_event, "kong")
    assert [e["reason"] for e in listed["items"]] == [
        "Logging"
    ]  # core and events.k8s.io kept apart


async def test_node_and_pod_builders_pass_the_clients_validation(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    cluster.put(kubeapi.make_node("node-1", cpu=6, arch="arm64"))
    cluster.put(
        kubeapi.make_pod(
            "kong-1", "kong", labels={"app": "kong"}, ip="127.0.0.7", node_name="node-1"
        )
    )

    node = await k8s(core.read_node, "node-1")
    pod = await k8s(core.read_namespaced_pod, "kong-1", "kong")

    assert node["status"]["capacity"]["cpu"] == "6"
    info = node["status"]["node_info"]
    assert (info["architecture"], info["operating_system"], info["kubelet_version"]) == (
        "arm64",
        "linux",
        "v1.33.0",
    )
    assert pod["status"]["pod_ip"] == "127.0.0.7"
    assert pod["status"]["phase"] == "Running"
    assert {p["name"]: p["container_port"] for p in pod["spec"]["containers"][0]["ports"]} == {
        "proxy": 8000,
        "proxy-tls": 8443,
        "admin": 8001,
        "admin-tls": 8444,
        "status": 8100,
    }
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready["Ready"] == "True"


async def test_requests_without_the_token_are_refused(cluster: kubeapi.KubeAPI) -> None:
    assert cluster.ca_pem is not None
    context = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    async with aiohttp.ClientSession(
        cluster.url, connector=aiohttp.TCPConnector(ssl=context)
    ) as anonymous:
        async with anonymous.get("/api/v1/pods") as response:
            assert response.status == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        async with anonymous.get("/api/v1/pods", headers=wrong) as response:
            assert response.status == 401
        async with anonymous.get("/version") as response:
            assert response.status == 200
            assert (await response.json())["minor"] == "33"


async def test_the_kubeconfig_works_with_the_kubernetes_client_loader(
    cluster: kubeapi.KubeAPI, tmp_path: pathlib.Path
) -> None:
    path = cluster.kubeconfig(tmp_path / "config")
    client = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        core = kubernetes.client.CoreV1Api(client)
        namespaces = await k8s(core.list_namespace)
    finally:
        client.close()
    assert [ns["metadata"]["name"] for ns in namespaces["items"]] == ["default"]


async def test_plain_http_without_auth_also_serves() -> None:
    async with kubeapi.serve(tls=False, auth=False) as api:
        assert api.url.startswith("http://")
        assert (api.ca_pem, api.token) == (None, None)
        core = kubernetes.client.CoreV1Api(api.client())
        api.put(kubeapi.make_pod("p", "kong"))
        pods = await k8s(core.list_namespaced_pod, "kong")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["p"]


async def test_in_process_writes_are_seen_like_client_writes(cluster: kubeapi.KubeAPI) -> None:
    first = cluster.put(kubeapi.make_pod("p", "kong", phase="Pending", ready=False))
    second = cluster.put(kubeapi.make_pod("p", "kong", phase="Running"))
    assert meta(second)["uid"] == meta(first)["uid"]
    assert int(meta(second)["resourceVersion"]) > int(meta(first)["resourceVersion"])
    assert second["status"]["phase"] == "Running"  # put() plays the kubelet: status included
    fetched = cluster.get("v1", "Pod", "p", "kong")
    assert fetched is not None
    assert fetched["status"]["phase"] == "Running"
    assert cluster.objects["v1/pods", "kong", "p"] >= {"status": {"phase": "Running"}}
    assert len(cluster.objects["v1/pods", "kong", "p"].history) == 2


# --- kopf ------------------------------------------------------------------------------------


async def test_kopf_runs_a_create_handler_once_and_patches_status_through_the_subresource(
    cluster: kubeapi.KubeAPI, kube_http: aiohttp.ClientSession, crd: Json
) -> None:
    registry = kopf.OperatorRegistry()
    calls: list[str] = []

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=cluster.url, ca_data=cluster.ca_pem, token=cluster.token, scheme="Bearer"
        )

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    async def created(name: str, patch: kopf.Patch, **_: Any) -> None:
        calls.append(name)
        patch.status["phase"] = "Succeeded"

    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            namespaces=["kong"],
            standalone=True,
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        params = {"watch": "true", "timeoutSeconds": "10"}
        async with kube_http.get(LRR_PATH, params=params) as response:
            cluster.put(lrr("r1"))
            async with asyncio.timeout(10):
                async for line in response.content:
                    if json.loads(line)["object"].get("status", {}).get("phase") == "Succeeded":
                        break
        # Time enough for a second run, had kopf's own patches looked like a new object.
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.wait_for(operator, timeout=10)

    assert calls == ["r1"]
    patches = list(cluster.emulator[kmock.method.PATCH])  # kmock's request log
    assert any(r.url.path.endswith("/r1/status") for r in patches)
    assert all(r.headers.get("Content-Type") == MERGE for r in patches)


async def test_a_test_can_still_inject_failures_the_kmock_way(
    cluster: kubeapi.KubeAPI, core: kubernetes.client.CoreV1Api
) -> None:
    cluster.put(kubeapi.make_pod("kong-1", "kong"))
    cluster.emulator["list v1/pods"] << 503  # a declared reaction wins over the emulation

    with pytest.raises(kubernetes.client.ApiException) as raised:
        await k8s(core.list_namespaced_pod, "kong")
    pod = await k8s(core.read_namespaced_pod, "kong-1", "kong")

    assert raised.value.status == 503
    assert pod["metadata"]["name"] == "kong-1"
