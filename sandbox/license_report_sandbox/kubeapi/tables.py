"""Server-side tables: what ``kubectl get`` prints, from a CRD's ``additionalPrinterColumns``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns the server chooses. A real server renders a CRD's printer columns by
JSONPath and shows dates as ages ("5m"); so does this one, which is what lets a
test see the Phase/Requests/Pods columns a user would see. Built-ins get Name
and Age (real servers print more; no test here depends on those).

The JSONPath subset is what printer columns use: ``.a.b``, ``.a[0]``, ``.a[*]``
and ``.a[?(@.type=="Ready")].status``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

from license_report_sandbox.kubeapi import resources
from license_report_sandbox.kubeapi.resources import Body

_STEP = re.compile(
    r"""\.?(?P<name>[A-Za-z0-9_$-]+)|\[(?P<index>-?\d+|\*)\]|\[\?\(@\.(?P<field>[A-Za-z0-9_.-]+)\s*==\s*(?P<quote>["'])(?P<value>.*?)(?P=quote)\)\]"""
)

_DEFAULT_AGE = resources.Column(
    name="Age",
    type="date",
    json_path=".metadata.creationTimestamp",
    description="CreationTimestamp is a timestamp representing the server time when this object"
    " was created.",
)


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in str(accept)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All values at ``path`` (an empty list when absent); raises ValueError on bad syntax."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    values = [obj]
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {position}")
        position = match.end()
        found: list[Any] = []
        for value in values:
            if match["name"] is not None:
                if isinstance(value, Mapping) and match["name"] in value:
                    found.append(value[match["name"]])
            elif match["index"] is not None:
                if isinstance(value, list):
                    if match["index"] == "*":
                        found.extend(value)
                    elif -len(value) <= int(match["index"]) < len(value):
                        found.append(value[int(match["index"])])
            elif isinstance(value, list):
                for item in value:
                    field = jsonpath(item, "." + match["field"])
                    if [str(v) for v in field[:1]] == [match["value"]]:
                        found.append(item)
        values = found
    return values


def human_duration(delta: datetime.timedelta) -> str:
    """apimachinery's ``duration.HumanDuration`` (what ``kubectl get`` shows as AGE)."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _cell(column: resources.Column, obj: Body, now: datetime.datetime) -> Any:
    try:
        values = jsonpath(obj, column.json_path)
    except ValueError:
        return None
    if not values:
        return None
    value = values[0]
    if column.type == "date" and isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "<invalid>"
        return human_duration(now - moment)
    if column.type in ("integer", "number", "boolean") or isinstance(value, str):
        return value
    return str(value)


def table(kind: resources.Kind, objects: Iterable[Body], *, list_rv: str | None) -> Body:
    """A ``meta.k8s.io/v1`` Table of the objects, rows carrying their metadata for kubectl."""
    columns = list(kind.columns)
    if not any(column.type == "date" for column in columns):
        columns.append(_DEFAULT_AGE)
    now = datetime.datetime.now(datetime.UTC)
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ] + [
        {
            "name": column.name,
            "type": column.type,
            "format": column.format,
            "description": column.description,
            "priority": column.priority,
        }
        for column in columns
    ]
    rows = [
        {
            "cells": [obj.get("metadata", {}).get("name")]
            + [_cell(column, obj, now) for column in columns],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            },
        }
        for obj in objects
    ]
    metadata = {"resourceVersion": list_rv} if list_rv is not None else {}
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    }
