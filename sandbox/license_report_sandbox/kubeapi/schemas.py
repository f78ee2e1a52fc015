"""What a real API server does to a custom resource's body with its CRD's structural schema.

On every create, update and patch (``/status`` included) kube-apiserver decodes
the whole resulting object and, before storing it:

1. prunes fields the schema does not declare, except under
   ``x-kubernetes-preserve-unknown-fields: true`` (where declared children are
   still pruned below them) and the ``apiVersion``, ``kind`` and ``metadata``
   of the root or of an ``x-kubernetes-embedded-resource``;
2. drops ``null`` values of fields that are neither ``nullable`` nor defaulted;
3. applies the schema's ``default`` wherever a field is absent, or ``null``
   and not ``nullable``, recursively, into objects, lists and maps that are
   present (a default never creates its parent).

With ``fieldValidation=Strict`` (which kubectl sends) a field step 1 would
drop is an error instead. The server also defaults on reads from etcd; this
emulation stores the defaulted object, which reads the same as long as a CRD
does not change under stored objects.

The rules are apiextensions-apiserver's, followed line by line:
``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning/algorithm.go``
(``Prune``, ``skipPrune``), ``.../schema/defaulting/prunenulls.go``
(``PruneNonNullableNullsWithoutDefaults``) and ``.../schema/defaulting/algorithm.go``
(``Default``), as documented in "Extend the Kubernetes API with
CustomResourceDefinitions" (kubernetes.io, sections *Field pruning*,
*Defaulting* and *Defaulting and Nullable*) and KEP-575.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

#: Kept at the root (and in embedded resources) whatever the schema says; ObjectMeta has
#: its own rules.
_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def _child(schema: Schema | None, key: str) -> Schema | None:
    """The schema of an object's field: its property, else ``additionalProperties``."""
    if schema is None:
        return None
    properties = schema.get("properties") or {}
    if key in properties:
        found: Schema = properties[key]
        return found
    return _additional(schema)


def _additional(schema: Schema) -> Schema | None:
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra
    return {} if extra is True else None


def _items(schema: Schema | None) -> Schema | None:
    if schema is None:
        return None
    items = schema.get("items")
    return items if isinstance(items, Mapping) else None


def _embedded(schema: Schema, *, root: bool) -> bool:
    return root or bool(schema.get("x-kubernetes-embedded-resource"))


def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> list[str]:
    """Remove, in place, what ``schema`` does not declare; the paths removed
    (``spec.gateway.selctor``), for ``fieldValidation=Strict``."""
    dropped: list[str] = []
    _prune(obj, schema, path="", root=root, dropped=dropped)
    return dropped


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _prune(obj: Any, schema: Schema | None, *, path: str, root: bool, dropped: list[str]) -> None:
    if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(obj, schema, path=path, root=root, dropped=dropped)
        return
    if isinstance(obj, dict):
        embedded = schema is not None and _embedded(schema, root=root)
        for key in list(obj):
            if embedded and key in _META_FIELDS:
                continue
            child = _child(schema, key)
            if child is None:
                del obj[key]
                dropped.append(_join(path, key))
            else:
                _prune(obj[key], child, path=_join(path, key), root=False, dropped=dropped)
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            _prune(item, _items(schema), path=f"{path}[{index}]", root=False, dropped=dropped)


def _skip_prune(obj: Any, schema: Schema, *, path: str, root: bool, dropped: list[str]) -> None:
    """Under preserve-unknown-fields: unknown keys stay, declared ones are pruned below."""
    if isinstance(obj, dict):
        embedded = _embedded(schema, root=root)
        for key, value in obj.items():
            if embedded and key in _META_FIELDS:
                continue
            child = _child(schema, key)
            if child is not None:
                _prune(value, child, path=_join(path, key), root=False, dropped=dropped)
    elif isinstance(obj, list):
        items = _items(schema)
        if items is not None:
            for index, item in enumerate(obj):
                _skip_prune(item, items, path=f"{path}[{index}]", root=False, dropped=dropped)


def _non_nullable_null(value: Any, schema: Schema | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable")


def drop_nulls(obj: Any, schema: Schema | None) -> None:
    """``null`` in a field that is neither nullable nor defaulted is removed, in place."""
    if isinstance(obj, dict):
        for key in list(obj):
            child = _child(schema, key)
            if _non_nullable_null(obj[key], child) and "default" not in (child or {}):
                del obj[key]
            else:
                drop_nulls(obj[key], child)
    elif isinstance(obj, list):
        for item in obj:
            drop_nulls(item, _items(schema))


def default(obj: Any, schema: Schema | None) -> None:
    """Fill in the schema's defaults, in place, where a field is absent or a non-nullable null."""
    if schema is None:
        return
    if isinstance(obj, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        for key, child in properties.items():
            if "default" in child and (key not in obj or _non_nullable_null(obj[key], child)):
                obj[key] = copy.deepcopy(child["default"])
        extra = _additional(schema)
        for key in obj:
            if key in properties:
                default(obj[key], properties[key])
            elif extra is not None:
                if _non_nullable_null(obj[key], extra):
                    obj[key] = copy.deepcopy(extra.get("default"))
                default(obj[key], extra)
    elif isinstance(obj, list):
        items = _items(schema)
        for index, item in enumerate(obj):
            if _non_nullable_null(item, items):
                assert items is not None
                obj[index] = copy.deepcopy(items.get("default"))
            default(obj[index], items)


def apply(obj: dict[str, Any], schema: Schema) -> list[str]:
    """Prune, drop nulls and default a whole object in place, as the API server decodes it;
    the paths of the unknown fields it dropped."""
    dropped = prune(obj, schema, root=True)
    drop_nulls(obj, schema)
    default(obj, schema)
    return dropped
