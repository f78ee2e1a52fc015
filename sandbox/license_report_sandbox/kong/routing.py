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


def route(node: nodes.SimNode, request: web.Request) -> tuple[int, object]:
    """What a healthy node answers: status and JSON body."""
    if node.token is not None and request.headers.get("Kong-Admin-Token") != node.token:
        return 401, {"message": faults.message_for(401)}
    figures = nodes.figures(node)
    path = request.path
    kind = lists.list_kind(node, figures, path)
    report = path == "/license/report" and node.mode.enterprise
    if path not in ("/", "/status", "/" + nodes.DATA_PLANES) and not report and kind is None:
        return 404, _NOT_FOUND
    if request.method not in ("GET", "HEAD"):
        return 405, {"message": faults.message_for(405)}
    if path == "/" + nodes.DATA_PLANES:
        if node.role != "control_plane":
            return 400, {"message": _NOT_A_CONTROL_PLANE}
        return lists.page(request, kind=nodes.DATA_PLANES, figures=figures)
    if path == "/":
        return 200, bodies.info(node, figures)
    if path == "/status":
        return 200, bodies.status(node)
    if kind is not None:
        return lists.page(request, kind=kind, figures=figures)
    return 200, bodies.license_report(node, figures)
