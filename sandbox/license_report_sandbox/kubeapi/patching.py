"""The PATCH content types an API server accepts, applied to a stored object.

- ``application/merge-patch+json`` (RFC 7386; what kopf sends): maps merge,
  ``null`` deletes, lists are replaced.
- ``application/json-patch+json`` (RFC 6902, through the ``jsonpatch`` library
  that kopf and kmock already depend on). Its body must be a list: the
  ``kubernetes`` client sends this content type by default, even for a dict
  body, and a real server refuses that with 400; so does this one.
- ``application/strategic-merge-patch+json`` (kubectl's choice for built-ins):
  a merge patch that also honours the directives kubectl sends — lists of maps
  named in ``$setElementOrder/<field>`` merge by the key those entries carry,
  ``$deleteFromPrimitiveList/<field>`` removes values, ``$patch: delete``
  removes a list item or map, ``$retainKeys`` is ignored. Lists without a
  directive are replaced. Without the Go types' merge keys this cannot be
  exact; it is right for what kubectl apply sends.
- ``application/apply-patch+yaml`` (server-side apply) is approximated by
  the caller as create-or-merge, without field ownership.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
SUPPORTED = (JSON, MERGE, STRATEGIC, APPLY_YAML)


class PatchError(ValueError):
    """A patch that cannot be applied; ``status`` is the answer (400 or 422)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a non-dict patch replaces; a dict patch merges key by key, None deletes."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError(
            "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
            " (a JSON patch is a list of operations; send a dict as application/merge-patch+json)"
        )
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise PatchError(
            f"the server rejected our request due to an error: {exc}", status=422
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PatchError(f"invalid JSON patch: {exc}") from None


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch plus the directives kubectl emits (see the module docstring)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "delete":
        return None
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    result = dict(target) if isinstance(target, Mapping) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    removals = {
        k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$deleteFromPrimitiveList/")
    }
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in orders:
            result[key] = _merge_keyed_list(result.get(key), value, orders[key])
        elif isinstance(value, list):
            result[key] = [strategic_merge_patch(None, item) for item in value]
        else:
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    for key, order in orders.items():
        if key not in patch and isinstance(result.get(key), list):
            result[key] = _merge_keyed_list(result[key], [], order)
    for key, values in removals.items():
        if isinstance(result.get(key), list) and isinstance(values, list):
            result[key] = [item for item in result[key] if item not in values]
    return result


def _merge_keyed_list(current: Any, patch: list[Any], order: Any) -> list[Any]:
    """Merge a list of maps by the key named in ``$setElementOrder`` entries, in that order."""
    if not isinstance(order, list) or not order:
        return [strategic_merge_patch(None, item) for item in patch]
    if not all(isinstance(entry, Mapping) and len(entry) == 1 for entry in order):
        # A primitive list's order: the patch lists the values to add, the order the result.
        return list(order)
    (merge_key,) = order[0].keys()
    existing = {
        item.get(merge_key): item
        for item in (current or [])
        if isinstance(item, Mapping) and merge_key in item
    }
    for item in patch:
        if not isinstance(item, Mapping) or merge_key not in item:
            continue
        key = item[merge_key]
        merged = strategic_merge_patch(existing.get(key), item)
        if merged is None:
            existing.pop(key, None)
        else:
            existing[key] = merged
    ordered = [existing.pop(entry[merge_key]) for entry in order if entry[merge_key] in existing]
    return ordered + list(existing.values())


def apply(content_type: str, target: Any, patch: Any) -> Any:
    """Apply a patch of the given content type; raises `PatchError` when the server would."""
    if content_type == JSON:
        return json_patch(target, patch)
    if not isinstance(patch, Mapping):
        raise PatchError(f"the body of a {content_type} patch must be a JSON object")
    if content_type == STRATEGIC:
        return strategic_merge_patch(target, patch)
    return merge_patch(target, patch)
