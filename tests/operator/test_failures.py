"""What goes wrong is named, retried when it can pass, and never loses the last report."""

from __future__ import annotations

import datetime
import json
from typing import Any

from license_report.reconcile import kube
from license_report.sim import kong as sim
from license_report.sim import kubeapi
from tests.conftest import FleetFactory
from tests.operator.conftest import (
    KONG_LABELS,
    Operator,
    create,
    deploy,
    get,
    patch,
    report_config_maps,
    request,
    secret,
    wait_for,
    wait_phase,
)

MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


def _nodes(count: int = 3) -> list[sim.SimNode]:
    return [
        sim.SimNode(name=f"gw-{i}", mode=sim.Mode.EE_DBLESS, counters={MONTH: 10})
        for i in range(count)
    ]


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


async def _events(clients: kube.Clients, name: str) -> list[tuple[str, str]]:
    listing = await kube.call(clients.core.list_namespaced_event, "kong")
    return [(e.reason, e.type) for e in listing.items if e.involved_object.name == name]


async def test_a_pod_down_and_a_pod_not_ready_degrade_the_report_and_are_named(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = _nodes()
    nodes[2].refuse = True  # gw-2 does not listen
    async with fleet(nodes) as running:
        deploy(api, running)
        api.put(
            kubeapi.make_pod(
                "gw-starting", "kong", labels=KONG_LABELS, ip="127.0.0.99", ready=False
            )
        )
        # A pod the selector does not match, on an address nobody serves: never asked.
        api.put(kubeapi.make_pod("other-app", "kong", labels={"app": "other"}, ip="127.0.0.98"))
        await create(clients, request("partial"))
        done = await wait_phase(clients, "partial", {"Degraded"})
    status = done["status"]
    assert {(f["pod"], f["reason"]) for f in status["failures"]} == {
        ("gw-2", "ConnectionRefused"),
        ("gw-starting", "NotReady"),
    }
    assert (status["summary"]["gatewayPods"], status["summary"]["podsReached"]) == (4, 2)
    assert _condition(done, "Degraded")["status"] == "True"
    assert _condition(done, "Complete")["status"] == "True"
    (config_map,) = await report_config_maps(clients)
    report = json.loads(config_map.data["report.json"])
    assert report["counters"] == [{"bucket": MONTH, "request_count": 20}]  # the two reached
    nodes_json = {n["pod"]: n["reachable"] for n in json.loads(config_map.data["nodes.json"])}
    assert nodes_json == {"gw-0": True, "gw-1": True, "gw-2": False, "gw-starting": False}

    async def warned() -> bool:
        return ("ReportDegraded", "Warning") in await _events(clients, "partial")

    await wait_for(warned, what="a ReportDegraded Event")


async def test_datastore_down_is_retried_then_failed_and_the_last_report_stays(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(_nodes()) as running:
        deploy(api, running)
        await create(clients, request("db"))
        good = await wait_phase(clients, "db", {"Succeeded"})
        (before,) = await report_config_maps(clients)

        # Point it at a datastore that is not there: refused, retried, then Failed.
        unreachable = {"postgres": {"host": "127.0.0.1", "port": 1, "sslMode": "disable"}}
        await patch(clients, "db", {"spec": {"datastore": unreachable}})

        async def retrying() -> bool:
            status = (await get(clients, "db")).get("status", {})
            return status.get("phase") == "Pending" and any(
                c["reason"] == "DatastoreConnectionRefused" for c in status.get("conditions", [])
            )

        await wait_for(retrying, what="the datastore problem shown while retrying")
        failed = await wait_phase(clients, "db", {"Failed"}, generation=2, timeout=30)
    assert _condition(failed, "Failed")["reason"] == "DatastoreConnectionRefused"
    assert "127.0.0.1:1/kong" in _condition(failed, "Failed")["message"]
    # The last good report is still there, and status still points at it.
    (after,) = await report_config_maps(clients)
    assert after.data == before.data
    assert failed["status"]["reportSha256"] == good["status"]["reportSha256"]
    assert ("ReportFailed", "Warning") in await _events(clients, "db")


async def test_a_missing_secret_shows_at_once_and_the_run_goes_on_when_it_appears(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    spec = {
        "gateway": {"selector": {"matchLabels": KONG_LABELS}, "adminApi": {"portName": "admin"}},
        "license": {"secretRef": {"name": "kong-license"}},
    }
    async with fleet(_nodes()) as running:
        deploy(api, running)
        await create(clients, request("lic", spec=spec))

        async def named() -> dict[str, Any] | None:
            obj = await get(clients, "lic")
            conditions = (obj.get("status") or {}).get("conditions") or []
            return obj if any(c["reason"] == "SecretNotFound" for c in conditions) else None

        waiting = await wait_for(named, what="SecretNotFound in the status")
        message = _condition(waiting, "Complete")["message"]
        assert "Secret kong/kong-license not found" in message
        assert "spec.license.secretRef" in message
        license_json = {
            "license": {
                "payload": {"license_key": "K-123", "license_expiration_date": "2030-01-01"}
            }
        }
        api.put(secret("kong-license", {"license": json.dumps(license_json)}))
        done = await wait_phase(clients, "lic", {"Succeeded"})
    (config_map,) = await report_config_maps(clients)
    assert json.loads(config_map.data["report.json"])["license_key"] not in ("UNLICENSED", "K-123")
    assert done["status"]["phase"] == "Succeeded"


async def test_a_malformed_license_fails_at_once_naming_secret_and_field(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    api.put(secret("bad-license", {"license": '{"license": {"payload": {}}}'}))
    spec = {
        "gateway": {"selector": {"matchLabels": KONG_LABELS}, "adminApi": {"portName": "admin"}},
        "license": {"secretRef": {"name": "bad-license"}},
    }
    async with fleet(_nodes()) as running:
        deploy(api, running)
        await create(clients, request("badlic", spec=spec))
        failed = await wait_phase(clients, "badlic", {"Failed"}, timeout=10)
    message = _condition(failed, "Failed")["message"]
    assert _condition(failed, "Failed")["reason"] == "InvalidLicense"
    assert "Secret bad-license key 'license' (spec.license.secretRef)" in message
    assert "license.payload.license_key: Field required" in message
    assert await report_config_maps(clients) == []


async def test_nodes_not_readable_are_said_and_cores_come_from_the_gateways(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    api.emulator["get v1/nodes"] << 403  # as without RBAC on nodes
    nodes = [
        sim.SimNode(name=f"gw-{i}", mode=sim.Mode.EE_DBLESS, counters={MONTH: 1}, cores=5)
        for i in range(3)
    ]
    async with fleet(nodes) as running:
        deploy(api, running)  # gw-0 and gw-2 on node-a, gw-1 on node-b
        await create(clients, request("norbac"))
        done = await wait_phase(clients, "norbac", {"Succeeded"})
    assert any("Nodes cannot be read" in note for note in done["status"]["notes"])
    (config_map,) = await report_config_maps(clients)
    # Each machine counted once, with the cores its gateway reports: 5 + 5
    # (the Nodes would have said 8 + 4).
    assert json.loads(config_map.data["report.json"])["system_info"]["cores"] == 10
