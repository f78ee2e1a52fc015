"""What the emulated API server serves: one `Kind` per resource, the built-ins, and CRDs -> kinds.

A real API server learns custom resources from CustomResourceDefinition objects;
so does this one (`kinds_from_crd`). Each `Kind` carries the few per-resource
behaviours a real server varies on (status subresource, ``metadata.generation``,
what DELETE answers), so the store stays free of per-resource special cases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeAlias

#: A raw Kubernetes object or request body. An API server stores arbitrary JSON
#: (custom resources have any shape), so bodies stay plain dicts in this package.
Body: TypeAlias = dict[str, Any]

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")

CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"


@dataclasses.dataclass(frozen=True)
class Column:
    """An ``additionalPrinterColumns`` entry: what ``kubectl get`` shows (server-side tables)."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclasses.dataclass(frozen=True)
class Kind:
    """One served resource (group, version, plural) and how the server treats its objects."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    #: Writes to the object ignore ``.status``; writes to ``/status`` change only ``.status``.
    status_subresource: bool = False
    #: Whether ``metadata.generation`` is kept (custom resources, CRDs, pods; not ConfigMaps).
    generation: bool = False
    #: Whether a create over HTTP drops ``.status`` (custom resources; pods start Pending).
    reset_status_on_create: bool = False
    initial_status: Mapping[str, Any] | None = None
    #: DELETE answers the object (True) or a ``Status`` of success (ConfigMaps, Secrets...).
    delete_returns_object: bool = True
    #: A PUT without ``metadata.resourceVersion`` is allowed (built-ins) or refused (custom).
    unconditional_update: bool = True
    #: The version objects are stored under; others are served by rewriting apiVersion
    #: (a CRD's ``conversion: None``).
    storage_version: str = ""
    columns: tuple[Column, ...] = ()
    #: Fields usable in ``fieldSelector`` beyond ``metadata.name`` and ``metadata.namespace``.
    selectable_fields: tuple[str, ...] = ()
    #: Subresources other than status that exist (listed in discovery, answered 405).
    extra_subresources: tuple[str, ...] = ()
    #: A CRD version's ``openAPIV3Schema``: what writes are pruned and defaulted by
    #: (`schemas`) and what ``/openapi/v3`` publishes. None for built-ins (no schemas here).
    schema: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_plural(self) -> tuple[str, str]:
        """What identifies the objects regardless of the version they are served in."""
        return self.group, self.plural

    @property
    def stored_in(self) -> str:
        return self.storage_version or self.version

    @property
    def subresources(self) -> tuple[str, ...]:
        return (("status",) if self.status_subresource else ()) + self.extra_subresources

    @property
    def qualified(self) -> str:
        """How error messages name the resource: ``configmaps``, ``lrrs.example.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _core(plural: str, kind: str, *, namespaced: bool = True, **extra: Any) -> Kind:
    return Kind(
        group="",
        version="v1",
        plural=plural,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        **extra,
    )


BUILTINS: tuple[Kind, ...] = (
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        status_subresource=True,
        initial_status={"phase": "Active"},
        extra_subresources=("finalize",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        status_subresource=True,
        generation=True,
        reset_status_on_create=True,
        initial_status={"phase": "Pending", "qosClass": "BestEffort"},
        selectable_fields=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
        extra_subresources=("log", "exec", "eviction", "binding"),
    ),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        status_subresource=True,
        selectable_fields=("spec.unschedulable",),
    ),
    _core("configmaps", "ConfigMap", short_names=("cm",), delete_returns_object=False),
    _core("secrets", "Secret", delete_returns_object=False, selectable_fields=("type",)),
    _core(
        "events",
        "Event",
        short_names=("ev",),
        delete_returns_object=False,
        selectable_fields=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
    ),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",), delete_returns_object=False),
    _core(
        "services",
        "Service",
        short_names=("svc",),
        categories=("all",),
        status_subresource=True,
        delete_returns_object=True,
    ),
    # Written by the EndpointSlice controller for each Service with a selector (a test or the
    # sandbox plays that controller); found by the label ``kubernetes.io/service-name``.
    Kind(
        group="discovery.k8s.io",
        version="v1",
        plural="endpointslices",
        kind="EndpointSlice",
        singular="endpointslice",
        namespaced=True,
        delete_returns_object=False,
    ),
    Kind(
        group="events.k8s.io",
        version="v1",
        plural="events",
        kind="Event",
        singular="event",
        namespaced=True,
        short_names=("ev",),
        delete_returns_object=False,
    ),
    Kind(
        group="coordination.k8s.io",
        version="v1",
        plural="leases",
        kind="Lease",
        singular="lease",
        namespaced=True,
        delete_returns_object=False,
    ),
    Kind(
        group=CRD_GROUP,
        version="v1",
        plural=CRD_PLURAL,
        kind="CustomResourceDefinition",
        singular="customresourcedefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        status_subresource=True,
        generation=True,
    ),
)


class InvalidDefinition(ValueError):
    """A CustomResourceDefinition this server cannot serve (what and why in the message)."""


def kinds_from_crd(crd: Mapping[str, Any]) -> list[Kind]:
    """The kinds a CRD makes served: one per version with ``served: true``.

    Raises `InvalidDefinition` for what a real server rejects with 422: missing
    group, names or versions, a scope other than Namespaced/Cluster, or not
    exactly one storage version.
    """
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidDefinition("spec: Required value")
    group = spec.get("group")
    names = spec.get("names")
    versions = spec.get("versions")
    scope = spec.get("scope")
    if not isinstance(group, str) or "." not in group:
        raise InvalidDefinition(
            f"spec.group: Invalid value: {group!r}: should be a domain with at least one dot"
        )
    if not isinstance(names, Mapping) or not names.get("plural") or not names.get("kind"):
        raise InvalidDefinition("spec.names.plural, spec.names.kind: Required value")
    if scope not in ("Namespaced", "Cluster"):
        raise InvalidDefinition(
            f'spec.scope: Unsupported value: {scope!r}: supported values: "Cluster", "Namespaced"'
        )
    if not isinstance(versions, list) or not versions:
        raise InvalidDefinition(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
        )
    storage = [v.get("name") for v in versions if isinstance(v, Mapping) and v.get("storage")]
    if len(storage) != 1:
        raise InvalidDefinition(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
        )
    plural = str(names["plural"])
    expected_name = f"{plural}.{group}"
    name = crd.get("metadata", {}).get("name")
    if name != expected_name:
        raise InvalidDefinition(
            f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
        )

    kinds = []
    for version in versions:
        if not version.get("served"):
            continue
        subresources = version.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        columns = tuple(
            Column(
                name=str(column["name"]),
                type=str(column.get("type", "string")),
                json_path=str(column["jsonPath"]),
                priority=int(column.get("priority", 0)),
                description=str(column.get("description", "")),
                format=str(column.get("format", "")),
            )
            for column in version.get("additionalPrinterColumns") or ()
        )
        kinds.append(
            Kind(
                group=group,
                version=str(version["name"]),
                plural=plural,
                kind=str(names["kind"]),
                singular=str(names.get("singular") or str(names["kind"]).lower()),
                namespaced=scope == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                generation=True,
                reset_status_on_create="status" in subresources,
                delete_returns_object=True,
                unconditional_update=False,
                storage_version=str(storage[0]),
                columns=columns,
                extra_subresources=("scale",) if "scale" in subresources else (),
                schema=schema if isinstance(schema, Mapping) else None,
            )
        )
    return kinds


def is_crd(kind: Kind) -> bool:
    return kind.group_plural == (CRD_GROUP, CRD_PLURAL)


def as_version(kind: Kind, obj: Body) -> Body:
    """A stored object as ``kind``'s version shows it (a CRD's conversion strategy None)."""
    if obj.get("apiVersion") == kind.api_version:
        return obj
    return {**obj, "apiVersion": kind.api_version}


def crd_status(crd: Mapping[str, Any], *, since: str) -> Body:
    """The status the apiextensions controller gives an accepted CRD: established."""
    spec = crd["spec"]
    conditions = (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    )
    return {
        "acceptedNames": dict(spec["names"]),
        "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
        "conditions": [
            {
                "type": condition,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": since,
            }
            for condition, reason, message in conditions
        ],
    }
