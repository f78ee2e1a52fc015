"""RBAC: exactly the permissions the operator's API calls need, split into kopf's and the
application's, commented rule by rule; never a wildcard, Secrets only read (created only
in the operator's own namespace), pods and nodes never written."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from tests.helpers import chart

ROLE_KINDS = {"Role", "ClusterRole"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}
CLUSTER = "<cluster>"

#: scope (CLUSTER or a namespace), API group, resource, resourceNames -> verbs
Permissions = dict[tuple[str, str, str, tuple[str, ...]], set[str]]


def _settings(values: dict[str, Any]) -> dict[str, Any]:
    fullname = values.get("fullnameOverride") or f"{chart.RELEASE}-license-report-operator"
    hash_key = values.get("hashKey", {})
    return {
        "fullname": fullname,
        "watch": values.get("watchNamespaces", []),
        "gateway": values.get("rbac", {}).get("gatewayNamespaces", []),
        "peering": values.get("replicaCount", 1) > 1,
        "nodes": values.get("rbac", {}).get("readNodes", True),
        "port_forward": values.get("rbac", {}).get("portForward", True),
        "existing": hash_key.get("existingSecret", ""),
        "key": hash_key.get("existingSecret") or hash_key.get("name") or f"{fullname}-hash-key",
        "sa": values.get("serviceAccount", {}).get("name") or fullname,
    }


def expected(values: dict[str, Any]) -> Permissions:
    """What the code calls (see the templates' comments for which call needs which verb)."""
    s = _settings(values)
    out: Permissions = defaultdict(set)
    served = s["watch"] or [CLUSTER]
    # Framework (kopf).
    out[CLUSTER, "apiextensions.k8s.io", "customresourcedefinitions", ()] |= {"list", "watch"}
    for scope in served:
        out[scope, "", "events", ()] |= {"create"}
        if s["peering"]:
            plural = "clusterkopfpeerings" if scope == CLUSTER else "kopfpeerings"
            out[scope, "kopf.dev", plural, ()] |= {"list", "watch", "patch"}
    # Application.
    for scope in served:
        requests = {"get", "list", "watch", "patch"}
        out[scope, "licensereport.io", "licensereportrequests", ()] |= requests
        out[scope, "licensereport.io", "licensereportrequests/status", ()] |= {"patch"}
        out[scope, "", "pods", ()] |= {"list", "watch"}  # metering watches for terminating pods
        out[scope, "", "secrets", ()] |= {"get"}
        out[scope, "", "configmaps", ()] |= {"create", "get", "update", "delete"}
    gateways = (
        [*served, *(n for n in s["gateway"] if n not in s["watch"])] if s["watch"] else served
    )
    for scope in gateways:
        # Issue 13: gateway pods, the Secrets they reference, their datastore's Service.
        out[scope, "", "pods", ()] |= {"list", "watch"}
        out[scope, "", "secrets", ()] |= {"get"}
        out[scope, "", "services", ()] |= {"get"}  # by name, never listed
        out[scope, "discovery.k8s.io", "endpointslices", ()] |= {"list"}
        if s["port_forward"]:
            out[scope, "", "pods/portforward", ()] |= {"get", "create"}
    if s["nodes"]:
        out[CLUSTER, "", "nodes", ()] |= {"get"}
    out[chart.NAMESPACE, "", "secrets", (s["key"],)] |= {"get"}
    if not s["existing"]:
        out[chart.NAMESPACE, "", "secrets", ()] |= {"create"}
    return dict(out)


def granted(manifests: list[chart.Manifest], service_account: str) -> Permissions:
    """What the ServiceAccount gets through the rendered bindings."""
    roles = {
        (m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]): m
        for m in manifests
        if m["kind"] in ROLE_KINDS
    }
    out: Permissions = defaultdict(set)
    for binding in manifests:
        if binding["kind"] not in {"RoleBinding", "ClusterRoleBinding"}:
            continue
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": service_account, "namespace": chart.NAMESPACE}
        ]
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace")
        role_namespace = namespace if ref["kind"] == "Role" else None
        role = roles.pop((ref["kind"], role_namespace, ref["name"]))
        scope = namespace or CLUSTER
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    names = tuple(rule.get("resourceNames", ()))
                    out[scope, group, resource, names] |= set(rule["verbs"])
    assert roles == {}, f"roles bound to nobody: {list(roles)}"
    return dict(out)


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_the_service_account_gets_exactly_what_the_code_calls(name: str) -> None:
    values = chart.VALUE_SETS[name]
    manifests = chart.render(values)
    assert granted(manifests, _settings(values)["sa"]) == expected(values)


def _rules(name: str) -> list[tuple[chart.Manifest, dict[str, Any]]]:
    return [
        (role, rule)
        for role in chart.render(chart.VALUE_SETS[name])
        if role["kind"] in ROLE_KINDS
        for rule in role["rules"]
    ]


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_no_wildcard_anywhere(name: str) -> None:
    for _, rule in _rules(name):
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in item for item in rule.get(field, [])), rule
        assert "nonResourceURLs" not in rule


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_secrets_are_only_read_except_the_hash_key_in_the_operator_namespace(name: str) -> None:
    values = chart.VALUE_SETS[name]
    creators = []
    for role, rule in _rules(name):
        if "secrets" not in rule["resources"]:
            continue
        assert rule["resources"] == ["secrets"], "a Secret rule shares its verbs with nothing"
        if rule["verbs"] == ["create"]:
            creators.append(role)
        else:
            assert rule["verbs"] == ["get"], rule
    if values.get("hashKey", {}).get("existingSecret"):
        assert creators == []
    else:
        assert [(r["kind"], r["metadata"]["namespace"]) for r in creators] == [
            ("Role", chart.NAMESPACE)
        ]


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_pods_and_nodes_are_never_written(name: str) -> None:
    for _, rule in _rules(name):
        if {"pods", "nodes"} & set(rule["resources"]):
            assert not WRITE_VERBS & set(rule["verbs"]), rule
            assert "pods/exec" not in rule["resources"]


@pytest.mark.parametrize("name", chart.VALUE_SETS)
def test_nothing_but_configmaps_is_ever_deleted(name: str) -> None:
    # ConfigMaps: the history of a schedule past spec.historyLimit (the code deletes only
    # ConfigMaps its request owns, by name, with the uid as precondition).
    for _, rule in _rules(name):
        assert not {"deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
        if "delete" in rule["verbs"]:
            assert (rule["apiGroups"], rule["resources"]) == ([""], ["configmaps"]), rule


def test_cluster_wide_by_default_and_roles_per_namespace_when_restricted() -> None:
    default = chart.render()
    assert {m["metadata"]["name"] for m in chart.find(default, "ClusterRole")} == {
        "lro-license-report-operator-framework",
        "lro-license-report-operator-application",
        "lro-license-report-operator-nodes",
    }
    assert [r["metadata"]["namespace"] for r in chart.find(default, "Role")] == [chart.NAMESPACE]

    restricted = chart.render(chart.VALUE_SETS["namespaced"])
    cluster_roles = {m["metadata"]["name"]: m for m in chart.find(restricted, "ClusterRole")}
    # Only what is cluster-scoped stays cluster-wide: CRDs (kopf) and nodes.
    assert set(cluster_roles) == {
        "lro-license-report-operator-framework",
        "lro-license-report-operator-nodes",
    }
    assert [
        r["resources"] for r in cluster_roles["lro-license-report-operator-framework"]["rules"]
    ] == [["customresourcedefinitions"]]
    roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]) for r in chart.find(restricted, "Role")
    }
    for namespace in ("kong", "kong-edge"):
        assert (namespace, "lro-license-report-operator-framework") in roles
        assert (namespace, "lro-license-report-operator-application") in roles
    assert ("gw", "lro-license-report-operator-gateway-pods") in roles


def test_port_forward_is_granted_only_in_gateway_namespaces_and_can_be_turned_off() -> None:
    def forwarding(values: dict[str, Any]) -> set[str]:
        return {
            scope
            for (scope, _, resource, _), verbs in granted(
                chart.render(values), _settings(values)["sa"]
            ).items()
            if resource == "pods/portforward" and verbs == {"get", "create"}
        }

    assert forwarding({}) == {CLUSTER}
    assert forwarding(chart.VALUE_SETS["namespaced"]) == {"kong", "kong-edge", "gw"}
    assert forwarding(chart.VALUE_SETS["no-port-forward"]) == set()


def test_reading_nodes_is_optional() -> None:
    manifests = chart.render(chart.VALUE_SETS["no-nodes"])
    assert not any("nodes" in rule["resources"] for _, rule in _rules("no-nodes"))
    assert not chart.find(manifests, "ClusterRoleBinding", "lro-license-report-operator-nodes")


def test_no_rbac_objects_when_rbac_create_is_false() -> None:
    manifests = chart.render({"rbac": {"create": False}})
    assert not {m["kind"] for m in manifests} & (ROLE_KINDS | {"RoleBinding", "ClusterRoleBinding"})


_RULE_START = re.compile(r"^- apiGroups:")


@pytest.mark.parametrize("name", ["default", "namespaced", "ha", "ha-namespaced"])
def test_every_rule_says_why_it_exists(name: str) -> None:
    """Each rule of the rendered Roles and ClusterRoles comes right after a comment."""
    text = chart.template(chart.VALUE_SETS[name]).stdout
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _RULE_START.match(line)]
    assert len(starts) >= 8
    for i in starts:
        assert lines[i - 1].startswith("#"), f"rule without a comment: {lines[i - 1 : i + 3]}"
