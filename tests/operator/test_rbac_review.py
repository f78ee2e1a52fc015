"""The chart's RBAC against what the operator calls: each call allowed, nothing more granted.

A scenario exercising every path the operator has (a report, a rerun that
replaces the ConfigMap, nodes.json in part ConfigMaps and the emptying of
those no longer named, a schedule whose history is trimmed, a license and
the hash-key Secrets, Nodes, Events) is
run against the emulated API server, which records every request. Those of
the operator (its client's and kopf's User-Agents) are turned into (API
group, resource, verb) and compared with the rules the chart renders.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import urllib.parse
from collections.abc import Iterable

import pytest

from license_report.handlers import context as operator_context
from license_report.reconcile import kube, run
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from license_report_sandbox.topologies import postgresql
from tests.helpers import chart, cluster, datastores, kong_charts
from tests.helpers.fleets import FleetFactory

Call = tuple[str, str, str]  # (API group, resource[/subresource], verb)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)(?:/namespaces/[^/]+)?/(?P<resource>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)


def calls(recorded: Iterable[kubeapi.serving.Recorded]) -> set[Call]:
    found = set()
    for record in recorded:
        if not (
            record.user_agent.startswith("kopf/") or record.user_agent.startswith(kube.USER_AGENT)
        ):
            continue
        match = _PATH.match(record.path)
        if match is None:
            continue  # discovery (/api, /apis, /apis/group/version): allowed to every user
        resource = match["resource"] + (f"/{match['sub']}" if match["sub"] else "")
        if record.method == "GET":
            query = urllib.parse.parse_qs(record.query)
            verb = (
                "watch"
                if query.get("watch", [""])[0] in ("true", "1")
                else ("get" if match["name"] else "list")
            )
        else:
            verb = _VERBS[record.method]
        found.add((match["group"] or "", resource, verb))
    return found


@pytest.fixture
def clock() -> operator_context.Clock:
    # An hour a second: the scheduled request below runs twice in a few seconds.
    return cluster.FastClock(speed=3600)


@pytest.fixture
def settings(settings: run.OperatorSettings) -> run.OperatorSettings:
    # A budget so small that each pod's nodes.json entry takes a part ConfigMap of its own.
    return dataclasses.replace(settings, config_map_budget=1000)


#: Granted, never called here: ``create`` on ``pods/portforward``. The operator's WebSocket
#: upgrade is a GET (recorded as ``get``), but from Kubernetes 1.35 a real API server also
#: authorizes it as ``create`` (feature gate AuthorizePodWebsocketUpgradeCreatePermission,
#: beta and on by default in 1.35: the Feature Gates reference,
#: https://kubernetes.io/docs/reference/command-line-tools-reference/feature-gates/, and
#: kubernetes/kubernetes#134577, which made pods/exec, attach and portforward require
#: ``create`` for SPDY and WebSocket requests alike); the emulator does not check it, and
#: kubectl's SPDY port-forward is a POST.
NOT_CALLED_YET: set[Call] = {
    ("", "pods/portforward", "create"),
}


def granted() -> set[Call]:
    rules = []
    for manifest in chart.render():
        if manifest["kind"] in ("ClusterRole", "Role"):
            rules += manifest["rules"]
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


async def test_every_call_is_allowed_and_every_grant_is_used(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: cluster.Operator,
    fleet: FleetFactory,
    seeded: datastores.Seeder,
) -> None:
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    license_json = {
        "license": {"payload": {"license_key": "K", "license_expiration_date": "2030-01-01"}}
    }
    api.put(cluster.secret("kong-license", {"license": json.dumps(license_json)}))
    spec = cluster.gateway_spec(license={"secretRef": {"name": "kong-license"}})
    nodes = [
        sim.SimNode(name=name, mode=sim.Mode.EE_DBLESS, counters={month: 1})
        for name in ("gw", "gw-gone")
    ]
    async with fleet(nodes) as running:
        cluster.deploy(api, running)
        await cluster.create(clients, cluster.request("rbac", spec=spec))
        await cluster.wait_phase(clients, "rbac", {"Succeeded"})
        assert len(await cluster.report_config_maps(clients)) == 3  # the report and two parts
        api.delete("v1", "Pod", "gw-gone", "kong")
        await cluster.patch(
            clients, "rbac", {"metadata": {"annotations": {"licensereport.io/rerun": "again"}}}
        )
        await cluster.wait_phase(clients, "rbac", {"Succeeded"}, rerun="again")
        # The rerun's one part in the other set; the first run's two parts emptied.
        holding = [cm for cm in await cluster.report_config_maps(clients) if cm.data]
        assert len(holding) == 2
        scheduled = cluster.request(
            "hourly", spec={**spec, "schedule": "@hourly", "historyLimit": 1}
        )
        await cluster.create(clients, scheduled)

        async def trimmed() -> bool:  # two runs: the first one's history ConfigMap deleted
            status: dict[str, str] = (await cluster.get(clients, "hourly")).get("status", {})
            return status.get("phase") == "Succeeded" and any(
                r.method == "DELETE" and "/configmaps/hourly-report-" in r.path
                for r in api.requests
            )

        await cluster.wait_for(trimmed, what="a history ConfigMap deleted")

        async def reported() -> bool:  # kopf posts Events from a queue, a moment later
            events = await kube.call(clients.core.list_namespaced_event, "kong")
            return any(e.reason == "ReportSucceeded" for e in events.items)

        await cluster.wait_for(reported, what="the ReportSucceeded Event")

    # The Kong chart with its PostgreSQL, only a selector: the Admin API and the datastore's
    # Service (looked up, its EndpointSlices listed) both through port-forward.
    kong_db = datastores.seed_sample(seeded, nodes=1, window=24).settings
    async with fleet(kong_charts.db_nodes(), ssl_context=kong_charts.kong_tls()) as chart_fleet:
        kong_charts.chart_release(api, chart_fleet, password=kong_db.password or "")
        postgresql.install(api, pod_ip=kong_charts.PG_POD_IP, server=(kong_db.host, kong_db.port))
        selector = {
            "gateway": {"selector": {"matchLabels": kong_charts.SELECTOR}},
            "datastore": {"postgres": {"database": kong_db.database}},
        }
        await cluster.create(clients, cluster.request("chart", spec=selector))
        done = await cluster.wait_phase(clients, "chart", {"Succeeded", "Degraded", "Failed"})
        assert done["status"]["phase"] == "Succeeded", done["status"]

    made, allowed = calls(api.requests), granted()
    assert made - allowed == set(), "calls the chart does not allow"
    assert allowed - made - NOT_CALLED_YET == set(), "grants the operator never uses"
    assert allowed >= NOT_CALLED_YET, "an issue-13 grant went from the chart"
