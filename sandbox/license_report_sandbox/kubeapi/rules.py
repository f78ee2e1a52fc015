"""Per-object rules of the API server's writes: what a body may say, names, server-owned fields.

Pure functions over one body; the `store` applies them. Messages follow the
real server's wording, so a client printing them reads what it would read
against a cluster.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from license_report_sandbox.kubeapi import errors
from license_report_sandbox.kubeapi.resources import Kind

DEFAULT_NAMESPACE = "default"
#: Namespaces a real cluster refuses to delete.
UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})

#: What clients may not set: the server owns these (a client's values are dropped on create).
SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)
#: Kept from the stored object on every update, whatever the body says.
IMMUTABLE_FIELDS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
)
#: apimachinery's ``SimpleNameGenerator`` alphabet: no vowels, no look-alike digits.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def timestamp(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with second precision, as ``metav1.Time`` serialises."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's metadata (empty when absent or malformed)."""
    found = obj.get("metadata")
    return found if isinstance(found, dict) else {}


def check_body(kind: Kind, body: Any) -> Mapping[str, Any]:
    """A JSON object whose apiVersion and kind, when given, are the endpoint's."""
    if not isinstance(body, Mapping):
        raise errors.bad_request(f"the body of a {kind.kind} must be a JSON object")
    api_version = body.get("apiVersion")
    if api_version is not None and api_version != kind.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected"
            f" API version ({kind.api_version})"
        )
    kind_name = body.get("kind")
    if kind_name is not None and kind_name != kind.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind_name}) does not match the expected kind ({kind.kind})"
        )
    if not isinstance(body.get("metadata", {}), Mapping):
        raise errors.bad_request("metadata must be a JSON object")
    return body


def namespace_for(kind: Kind, namespace: str | None, body: Mapping[str, Any]) -> str | None:
    """The URL's namespace (the body may repeat it, not contradict it); None if cluster-wide."""
    declared = meta(body).get("namespace")
    if not kind.namespaced:
        return None
    if namespace is None:
        return str(declared or DEFAULT_NAMESPACE)
    if declared and declared != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return namespace


def check_name(kind: Kind, name: str) -> None:
    """DNS-1123: a subdomain for most objects, a label for namespaces."""
    is_label = (kind.group, kind.plural) == ("", "namespaces")
    pattern, limit = (_LABEL, 63) if is_label else (_SUBDOMAIN, 253)
    if len(name) > limit or not pattern.match(name):
        raise errors.invalid(
            kind,
            name,
            "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC 1123'
            f" {'label' if is_label else 'subdomain'} must consist of lower case"
            " alphanumeric characters, '-' or '.', and must start and end with an"
            " alphanumeric character",
        )


def generated_name(prefix: str) -> str:
    """``generateName``: the prefix and five random characters."""
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def spec_part(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any]:
    """What ``generation`` counts changes of: all but metadata (and a subresource's status)."""
    ignored = {"metadata", "apiVersion", "kind"}
    if kind.status_subresource:
        ignored.add("status")
    return {key: value for key, value in obj.items() if key not in ignored}


#: ``core.MaxSecretSize``: the most a ConfigMap's or Secret's data may hold, in bytes.
MAX_DATA_BYTES = 1024 * 1024
#: etcd's default ``--max-request-bytes`` (1.5 MiB): no stored object may be larger.
MAX_OBJECT_BYTES = 1024 * 1024 + 512 * 1024


def check_size(kind: Kind, name: str, obj: Mapping[str, Any]) -> None:
    """The two size limits a real cluster enforces on every write.

    A ConfigMap's or Secret's keys and values together (binaryData and a
    Secret's data counted decoded) may hold 1 MiB, as the API server's
    validation says; any object, serialised, must fit etcd's request limit.
    """
    if (kind.group, kind.plural) in (("", "configmaps"), ("", "secrets")):
        total = 0
        for field in ("data", "binaryData", "stringData"):
            values = obj.get(field)
            if not isinstance(values, Mapping):
                continue
            encoded = field == "binaryData" or (kind.plural == "secrets" and field == "data")
            for key, value in values.items():
                text = str(value)
                total += len(key) + (len(text) * 3 // 4 if encoded else len(text.encode()))
        if total > MAX_DATA_BYTES:
            raise errors.invalid(
                kind, name, "[]", f"Too long: may not be more than {MAX_DATA_BYTES} bytes"
            )
    if len(json.dumps(obj, separators=(",", ":"))) > MAX_OBJECT_BYTES:
        raise errors.too_large()
