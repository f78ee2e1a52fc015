"""The paged entity lists (``/services``, ``/routes``, ..., ``/clustering/data-planes``).

Entities are made up from the node's source on the fly: each id carries its
index, so Kong's opaque offsets decode without any stored state, and every
node of a cluster lists the same ids. Paging follows Kong's endpoints
(e95e9e897c:kong/api/endpoints.lua:177-178, 457-471; 2.x 391a5ccef6 L369-381):
size default 100, max 1000, ``next`` carrying ``&size=`` only from 3.1 and only
when the client gave one, never a workspace prefix; ``/consumers`` lists proxy
consumers only; ``/rbac/users`` drops admins and developers after paging.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import urllib.parse

from aiohttp import web

from license_report_sandbox.kong import nodes, store, versions

LISTS = ("services", "routes", "consumers", "plugins", "workspaces", "rbac/users")
_EE_ONLY_LISTS = ("workspaces", "rbac/users")
_MAX_PAGE = 1000
_DEFAULT_PAGE = 100
_CREATED_AT = 1_700_000_000


def _entity_id(scope: str, kind: str, index: int) -> str:
    """A uuid-looking id that carries its index, so offsets decode without any stored state."""
    h = hashlib.sha256(f"{scope}/{kind}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{index:012x}"


@dataclasses.dataclass(frozen=True)
class Listing:
    """What a node's lists hold, read from its source once per request."""

    scope: str
    totals: dict[str, int]
    plugins: tuple[store.SimPlugin, ...]
    rbac_kinds: tuple[str, ...]

    def serviceless(self, route: int) -> bool:
        routes = self.totals["routes"]
        return route >= routes - self.totals["serviceless_routes"] or not self.totals["services"]

    def total(self, kind: str) -> int:
        if kind == "rbac/users":
            return len(self.rbac_kinds)
        if kind == nodes.DATA_PLANES:
            return self.totals["data_planes"]
        return self.totals[kind]


async def listing(node: nodes.SimNode) -> Listing:
    source = node.source()
    if isinstance(source, store.PostgresStore):
        plugins = tuple(
            store.SimPlugin(p.name, config=dict(p.config)) for p in await source.plugin_rows()
        )
    else:
        plugins = source.plugins
    return Listing(
        scope=source.scope,
        totals=await source.list_totals(),
        plugins=plugins,
        rbac_kinds=tuple(await source.rbac_user_kinds()),
    )


def _entity(kind: str, figures: Listing, index: int) -> dict[str, object]:
    scope = figures.scope
    common: dict[str, object] = {
        "id": _entity_id(scope, kind, index),
        "created_at": _CREATED_AT + index,
        "updated_at": _CREATED_AT + index,
    }
    ws: dict[str, object] = {"ws_id": _entity_id(scope, "workspaces", 0)}
    if kind == "services":
        return common | ws | {"name": f"service-{index}", "host": f"upstream-{index}.internal",
                              "port": 80, "protocol": "http", "path": None, "retries": 5,
                              "connect_timeout": 60000, "read_timeout": 60000,
                              "write_timeout": 60000, "enabled": True, "tags": None}  # fmt: skip
    if kind == "routes":
        service = None
        if not figures.serviceless(index):
            services = figures.totals["services"]
            service = {"id": _entity_id(scope, "services", index % services)}
        return common | ws | {"name": f"route-{index}", "protocols": ["http", "https"],
                              "paths": [f"/r{index}"], "methods": None, "hosts": None,
                              "strip_path": True, "preserve_host": False, "service": service,
                              "tags": None}  # fmt: skip
    if kind == "consumers":
        return common | ws | {"username": f"consumer-{index}", "custom_id": None, "tags": None}
    if kind == "plugins":
        plugin = figures.plugins[index]

        def ref(entity: str, number: int | None) -> dict[str, str] | None:
            return None if number is None else {"id": _entity_id(scope, entity, number)}

        body = common | ws | {"name": plugin.name, "instance_name": None,
                              "route": ref("routes", plugin.route),
                              "service": ref("services", plugin.service),
                              "consumer": ref("consumers", plugin.consumer),
                              "config": plugin.config, "enabled": True, "tags": None,
                              "consumer_group": None if plugin.consumer_group is None
                              else {"id": plugin.consumer_group},
                              "protocols": ["grpc", "grpcs", "http", "https"]}  # fmt: skip
        return body
    if kind == nodes.DATA_PLANES:
        address = f"10.0.{index // 250}.{index % 250 + 1}"
        return {"id": common["id"], "hostname": f"dp-{index}", "ip": address,
                "last_seen": _CREATED_AT + index, "config_hash": "0" * 32,
                "version": "3.5.0.0", "sync_status": "normal", "updated_at": _CREATED_AT + index,
                "labels": {}, "cert_details": {"expiry_timestamp": _CREATED_AT + 10**8},
                }  # fmt: skip
    if kind == "workspaces":
        name = "default" if index == 0 else f"workspace-{index}"
        return common | {"name": name, "comment": None, "meta": {"color": None},
                         "config": {"portal": False}}  # fmt: skip
    return common | ws | {"name": f"user-{index}", "comment": None, "enabled": True}


def _workspace_exists(name: str, count: int) -> bool:
    if name == "default":
        return True
    number = name.removeprefix("workspace-")
    return number != name and number.isdigit() and 1 <= int(number) < count


def list_kind(node: nodes.SimNode, figures: Listing, path: str) -> str | None:
    """Which list a path asks for; Enterprise also takes a ``/{workspace}`` prefix."""
    kind: str | None = path[1:]
    if kind not in LISTS and node.mode.enterprise:
        workspace, _, kind = path[1:].partition("/")
        if kind == "workspaces" or not _workspace_exists(workspace, figures.totals["workspaces"]):
            kind = None
    if kind not in LISTS or (kind in _EE_ONLY_LISTS and not node.mode.enterprise):
        return None
    return kind


def page(
    request: web.Request, *, node: nodes.SimNode, kind: str, figures: Listing
) -> tuple[int, object]:
    """One page, as Kong's postgres strategy pages: an opaque cursor, no offset on the last."""
    if kind == "consumers" and node.mode.enterprise and "type" in request.query:
        # EE forces type = 0 (e95e9e897c:kong/enterprise_edition/api_helpers.lua:466-503).
        return 400, {"message": "Invalid parameter: 'type'"}
    size_arg = request.query.get("size")
    size = _DEFAULT_PAGE
    if size_arg is not None:
        try:
            number = float(size_arg)
        except ValueError:
            return 400, {"code": 9, "name": "invalid size", "message": "size must be a number"}
        if not number.is_integer() or not 1 <= number <= _MAX_PAGE:
            message = f"size must be an integer between 1 and {_MAX_PAGE}"
            return 400, {"code": 9, "name": "invalid size", "message": message}
        size = int(number)
    start = 0
    offset_arg = request.query.get("offset")
    if offset_arg is not None:
        index = _decode_offset(offset_arg, figures.scope, kind)
        if isinstance(index, str):
            message = f"'{offset_arg}' is not a valid offset: {index}"
            return 400, {"code": 7, "name": "invalid offset", "message": message}
        start = index + 1
    total = figures.total(kind)
    end = min(start + size, total)
    indexes: list[int] = list(range(start, end))
    if kind == "rbac/users":
        # Paged first, then admins' and developers' users dropped: short or empty pages.
        indexes = [i for i in indexes if figures.rbac_kinds[i] == "user"]
    body: dict[str, object] = {"data": [_entity(kind, figures, i) for i in indexes], "next": None}
    if end < total:
        token = _encode_offset(_entity_id(figures.scope, kind, end - 1))
        # 3.1+ (OSS 94766211ef) carries size over when the client gave one; 2.x never;
        # /rbac/users (its own handler) never.
        carried = size_arg is not None and node.release.at_least(versions.V3_1)
        suffix = f"&size={size_arg}" if carried and kind != "rbac/users" else ""
        body["next"] = f"/{kind}?offset={urllib.parse.quote(token, safe='')}{suffix}"
        body["offset"] = token
    return 200, body


def _encode_offset(entity_id: str) -> str:
    """Like Kong's postgres cursor: base64 of the JSON primary key, padding stripped."""
    return base64.b64encode(json.dumps([entity_id]).encode()).decode().rstrip("=")


def _decode_offset(token: str, scope: str, kind: str) -> int | str:
    """The index after which the next page starts, or Kong's reason the offset is invalid."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "bad base64 encoding"
    try:
        decoded = json.loads(raw)
    except ValueError:
        return "bad json encoding"
    if not (isinstance(decoded, list) and len(decoded) == 1 and isinstance(decoded[0], str)):
        return "bad json encoding"
    prefix, _, index = decoded[0].rpartition("-")
    if prefix != _entity_id(scope, kind, 0).rpartition("-")[0] or len(index) != 12:
        return "unknown cursor"
    return int(index, 16)
