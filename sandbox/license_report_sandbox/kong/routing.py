"""Which body a request gets: authentication, paths, methods, then `bodies` or `lists`."""

from __future__ import annotations

from aiohttp import web

from license_report_sandbox import faults
from license_report_sandbox.kong import bodies, lists, nodes

_NOT_FOUND = {"message": "Not found"}
_NOT_A_CONTROL_PLANE = (
    "this endpoint is only available when Kong is configured to run as Control Plane for "
    "the cluster"
)
#: ``rbac.validate_user`` with user "guest" (e95e9e897c:kong/rbac/init.lua:1648-1650).
_INVALID_RBAC = "Invalid RBAC credentials"
#: With ``admin_gui_auth`` and no ``Kong-Admin-User`` (e95e9e897c:…/api_helpers.lua:102-115).
_NO_CREDENTIALS = "Invalid credentials. Token or User credentials required"


def _unauthorised(node: nodes.SimNode, request: web.Request) -> dict[str, str] | None:
    if node.token is None or request.headers.get("Kong-Admin-Token") == node.token:
        return None
    if node.admin_gui_auth and "Kong-Admin-User" not in request.headers:
        return {"message": _NO_CREDENTIALS}
    return {"message": _INVALID_RBAC}


async def route(node: nodes.SimNode, request: web.Request) -> tuple[int, object]:
    """What a healthy node answers: status and JSON body."""
    refused = _unauthorised(node, request)
    if refused is not None:
        return 401, refused
    path = request.path
    # Lists are read from the node's source only for a path that may be one.
    figures = None if path in ("/", "/status", "/license/report") else await lists.listing(node)
    kind = None if figures is None else lists.list_kind(node, figures, path)
    # Kong OSS has no /license/report route: handle_404 (3.9.1:kong/api/api_helpers.lua:543-545).
    report = path == "/license/report" and node.mode.enterprise
    if path not in ("/", "/status", "/" + nodes.DATA_PLANES) and not report and kind is None:
        return 404, _NOT_FOUND
    if request.method not in ("GET", "HEAD"):
        return 405, {"message": faults.message_for(405)}
    if path == "/" + nodes.DATA_PLANES:
        if node.role != "control_plane":
            return 400, {"message": _NOT_A_CONTROL_PLANE}
        assert figures is not None
        return lists.page(request, node=node, kind=nodes.DATA_PLANES, figures=figures)
    if path == "/":
        return 200, bodies.info(node)
    if path == "/status":
        return 200, bodies.status(node)
    if kind is not None and figures is not None:
        return lists.page(request, node=node, kind=kind, figures=figures)
    return 200, await bodies.license_report(node)
