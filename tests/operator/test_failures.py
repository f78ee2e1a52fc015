"""What goes wrong is named, retried when it can pass, and never loses the last report."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
import pathlib
from typing import Any

import kmock
import psycopg

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, postgres, seed
from tests.helpers.cluster import (
    KONG_LABELS,
    OPERATOR_NAMESPACE,
    Operator,
    by_operator,
    consistent_report,
    create,
    datastore_spec,
    db_gateway_nodes,
    deploy,
    gateway_nodes,
    gateway_spec,
    get,
    patch,
    report_config_maps,
    request,
    secret,
    wait_for,
    wait_phase,
)
from tests.helpers.datastores import KONG_PASSWORD
from tests.helpers.fleets import FleetFactory

MONTH = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


async def _events(clients: kube.Clients, name: str) -> list[tuple[str, str]]:
    listing = await kube.call(clients.core.list_namespaced_event, "kong")
    return [(e.reason, e.type) for e in listing.items if e.involved_object.name == name]


async def test_a_migration_job_pod_the_selector_matches_is_skipped_not_a_failure(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(db_gateway_nodes(2)) as running:
        deploy(api, running)
        # As the Kong chart leaves it: a completed pod owned by its migrations Job.
        migration = kubeapi.make_pod(
            "kong-init-migrations-x7k2p", "kong", labels=KONG_LABELS, ip=None,
            phase="Succeeded", ready=False,
        )  # fmt: skip
        migration["metadata"]["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": "kong-init-migrations",
             "uid": "0f1e2d3c-0000-4000-8000-000000000001", "controller": True},
        ]  # fmt: skip
        api.put(migration)
        await create(clients, request("migrated", spec=gateway_spec()))
        done = await wait_phase(clients, "migrated", {"Succeeded", "Degraded", "Failed"})
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert "failures" not in status or not status["failures"]
    summary = status["summary"]
    assert (summary["gatewayPods"], summary["podsReached"], summary["podsSkipped"]) == (2, 2, 1)
    assert any(
        "kong-init-migrations-x7k2p (owned by Job kong-init-migrations" in note
        for note in status["notes"]
    ), status["notes"]


async def test_a_pod_down_and_a_pod_not_ready_degrade_the_report_and_are_named(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = db_gateway_nodes(3)
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
        await create(clients, request("partial", spec=gateway_spec(report={"hashNames": False})))
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
    # The two reached show the shared table, gw-2's flushed requests included (as Kong's).
    assert report["counters"] == [{"bucket": MONTH, "request_count": 30}]
    nodes_json = {n["pod"]: n["reachable"] for n in json.loads(config_map.data["nodes.json"])}
    assert nodes_json == {"gw-0": True, "gw-1": True, "gw-2": False, "gw-starting": False}

    async def warned() -> bool:
        return ("ReportDegraded", "Warning") in await _events(clients, "partial")

    await wait_for(warned, what="a ReportDegraded Event")


async def test_datastore_down_is_retried_then_failed_and_the_last_report_stays(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    async with fleet(gateway_nodes(3)) as running:
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
    # A hash key of our own: nodes.json's names are then figures worked out here.
    hash_key = "0123456789abcdef" * 2
    api.put(secret("license-report-hash-key", {"key": hash_key}, namespace=OPERATOR_NAMESPACE))
    spec = gateway_spec(license={"secretRef": {"name": "kong-license"}})
    async with fleet(gateway_nodes(3)) as running:
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
    # The license's key as Kong writes it; the pods' names hashed with the installation key.
    assert json.loads(config_map.data["report.json"])["license_key"] == "K-123"
    pods = sorted(n["pod"] for n in json.loads(config_map.data["nodes.json"]))
    assert pods == sorted(
        hmac.new(hash_key.encode(), f"gw-{i}".encode(), hashlib.sha256).hexdigest()
        for i in range(3)
    )
    assert done["status"]["phase"] == "Succeeded"


async def test_a_malformed_license_fails_at_once_naming_secret_and_field(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    api.put(secret("bad-license", {"license": '{"license": {"payload": {}}}'}))
    spec = gateway_spec(license={"secretRef": {"name": "bad-license"}})
    async with fleet(gateway_nodes(3)) as running:
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


async def test_a_pod_gone_between_discovery_and_collection_is_named_and_the_others_counted(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    nodes = db_gateway_nodes(3)
    async with fleet(nodes) as running:
        deploy(api, running)
        gone: list[str] = []

        def lists_pods(request: kmock.Request) -> bool:
            return (
                by_operator(request)
                and request.method == kmock.method.GET
                and request.resource is not None
                and request.resource.plural == "pods"
                and request.name is None
            )

        async def list_then_remove_one(request: kmock.Request) -> kmock.Payload:
            listing = await api.emulator.answer(request)  # gw-1 is in it
            if not gone:
                # Then, before anyone asks it, the pod is deleted and its gateway stops.
                api.delete("v1", "Pod", "gw-1", "kong")
                await running.set_refuse("gw-1", True)
                gone.append("gw-1")
            return listing

        api.emulator[lists_pods] << list_then_remove_one
        # Not metered: the meter daemon's own list of the pods would be the first one.
        spec = gateway_spec(report={"hashNames": False}, metering={"enabled": False})
        await create(clients, request("vanished", spec=spec))
        done = await wait_phase(clients, "vanished", {"Degraded"})
    assert gone == ["gw-1"]
    assert nodes[1].requests_seen == []  # listed, never reached
    status = done["status"]
    assert [(f["pod"], f["reason"]) for f in status["failures"]] == [("gw-1", "ConnectionRefused")]
    assert (status["summary"]["gatewayPods"], status["summary"]["podsReached"]) == (3, 2)
    _, config_map = await consistent_report(clients, "vanished", run="1/")
    report = json.loads(config_map.data["report.json"])
    assert report["counters"] == [{"bucket": MONTH, "request_count": 30}]  # the shared table
    nodes_json = {n["pod"]: n["reachable"] for n in json.loads(config_map.data["nodes.json"])}
    assert nodes_json == {"gw-0": True, "gw-1": False, "gw-2": True}


async def test_the_datastore_killed_mid_run_fails_the_run_and_keeps_the_last_report(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    tmp_path: pathlib.Path,
) -> None:
    # A server of this test's own: the session's is shared and must stay up.
    server = postgres.PostgresServer(base_dir=tmp_path / "pg")
    started = server.start()
    try:
        password = KONG_PASSWORD
        database = postgres.create_kong_database(started, name="kong", owner_password=password)
        dsn = started.dsn(database=database, user="kong", password=password)
        now = datetime.datetime.now(datetime.UTC)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, seed.sample_seed(now=now.date(), nodes=2, months=3))
        api.put(secret("kong-pg", {"password": password}))
        shared = sim.Datastore()
        nodes = [
            sim.SimNode(name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared) for i in range(2)
        ]
        spec = gateway_spec(datastore=datastore_spec(started.host, started.port, database))
        async with fleet(nodes) as running:
            deploy(api, running)
            await create(clients, request("db", spec=spec))
            good = await wait_phase(clients, "db", {"Succeeded"})
            (before,) = await report_config_maps(clients)

            # The next run's read waits on a lock; the server dies while it waits.
            locker = psycopg.connect(dsn)
            try:
                locker.execute("LOCK TABLE services IN ACCESS EXCLUSIVE MODE")
                await patch(clients, "db", {"spec": {"report": {"months": 6}}})

                def waiting_on_the_lock() -> bool:
                    with psycopg.connect(dsn, autocommit=True) as watcher:
                        row = watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = %s AND wait_event_type = 'Lock'",
                            (database,),
                        ).fetchone()
                    return row is not None and row[0] > 0

                async def reading() -> bool:
                    return await asyncio.to_thread(waiting_on_the_lock)

                await wait_for(reading, timeout=20, what="the run's read waiting on the lock")
                await asyncio.to_thread(server.kill)
            finally:
                locker.close()
            failed = await wait_phase(clients, "db", {"Failed"}, generation=2, timeout=30)
    finally:
        server.stop()
    # The read cut by the server's death, then the server not there: shown while
    # retried (Pending), then Failed.
    retried = [
        next(c for c in r.data["status"]["conditions"] if c["type"] == "Failed")
        for r in api.emulator[kmock.method.PATCH]
        if r.subresource == "status" and r.data["status"].get("phase") == "Pending"
    ]
    assert retried, "Failed at once, without retrying"
    assert retried[0]["reason"] == "DatastoreUnavailable", retried[0]
    assert "dropped the connection" in retried[0]["message"]
    assert {c["reason"] for c in retried[1:]} <= {"DatastoreConnectionRefused"}, retried
    condition = _condition(failed, "Failed")
    assert condition["reason"].startswith("Datastore"), condition
    assert f"{started.host}:{started.port}/{database}" in condition["message"]
    assert password not in json.dumps(failed["status"])
    # The last good report is untouched, and the status still points at it.
    (after,) = await report_config_maps(clients)
    assert after.data == before.data
    assert after.metadata.annotations == before.metadata.annotations
    assert failed["status"]["reportSha256"] == good["status"]["reportSha256"]
    assert (
        good["status"]["reportSha256"]
        == before.metadata.annotations["licensereport.io/report-sha256"]
    )
