"""API discovery, as kubectl, kopf and client-go read it: ``/version``, ``/api``, ``/apis``, groups.

Built from the store's served kinds on every request, so a CRD is discoverable
the moment it is stored. kmock's own discovery is not used: it reports the core
group-version as ``/v1``, repeats the main verbs for subresources and picks a
preferred version at random; here versions are ranked as Kubernetes ranks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from license_report_sandbox.kubeapi import errors, resources
from license_report_sandbox.kubeapi.resources import Body, Kind

#: The version this server claims (kubectl warns when client and server are more than one apart).
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")

_SUBRESOURCE_VERBS = {
    "status": resources.STATUS_VERBS,
    "scale": resources.STATUS_VERBS,
    "finalize": ("update",),
    "log": ("get",),
    "exec": ("create", "get"),
    "eviction": ("create",),
    "binding": ("create",),
}
_VERSION = re.compile(r"^v(?P<major>\d+)(?:(?P<stage>alpha|beta)(?P<minor>\d+))?$")


def version_rank(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[match["stage"]]
    return (stage, -int(match["major"]), -int(match["minor"] or 0), version)


def root_paths(kinds: Iterable[Kind]) -> Body:
    paths = {"/api", "/api/v1", "/apis", "/version", *HEALTH_PATHS}
    for kind in kinds:
        if kind.group:
            paths |= {f"/apis/{kind.group}", f"/apis/{kind.group}/{kind.version}"}
    return {"paths": sorted(paths)}


def core_versions(host: str) -> Body:
    """``/api``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }


def _versions(kinds: Iterable[Kind]) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {}
    for kind in kinds:
        if kind.group:
            groups.setdefault(kind.group, set()).add(kind.version)
    return {group: sorted(versions, key=version_rank) for group, versions in groups.items()}


def _group_body(group: str, versions: list[str]) -> Body:
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
    }


def group_list(kinds: Iterable[Kind]) -> Body:
    """``/apis``."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_body(g, vs) for g, vs in sorted(_versions(kinds).items())],
    }


def group(kinds: Iterable[Kind], name: str) -> Body:
    """``/apis/<group>``."""
    versions = _versions(kinds).get(name)
    if not versions:
        raise errors.no_such_path(f"/apis/{name}")
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(name, versions)}


def resource_list(kinds: Iterable[Kind], group: str, version: str) -> Body:
    """``/api/v1`` or ``/apis/<group>/<version>``: each kind, then its subresources."""
    served = [k for k in kinds if (k.group, k.version) == (group, version)]
    if not served:
        raise errors.no_such_path(f"/apis/{group}/{version}" if group else f"/api/{version}")
    entries: list[Body] = []
    for kind in sorted(served, key=lambda k: k.plural):
        entry: Body = {
            "name": kind.plural,
            "singularName": kind.singular,
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": list(kind.verbs),
        }
        if kind.short_names:
            entry["shortNames"] = list(kind.short_names)
        if kind.categories:
            entry["categories"] = list(kind.categories)
        entries.append(entry)
        for sub in kind.subresources:
            entries.append(
                {
                    "name": f"{kind.plural}/{sub}",
                    "singularName": "",
                    "namespaced": kind.namespaced,
                    "kind": kind.kind,
                    "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }
