"""The status listener (``status_listen``): ``/status``, ``/status/ready``, ``/metrics``.

Kong's status server block serves the core status routes and, for every loaded
plugin, its ``status_api`` module (a643428bc4:kong/status/init.lua:29, 59-72):
``/status`` with the Admin API's body (`bodies.status`), ``/status/ready`` from 3.3
(bd77954680; ``{"message": "ready"}``, a643428bc4:kong/status/ready.lua:103-121),
and the Prometheus plugin's ``/metrics`` (`exposition`). It has no log phase
(a643428bc4:kong/templates/nginx_kong.lua:458-503), so nothing here is a proxied
request; nginx counts each one before the handler runs, so ``total_requests`` in
an answer includes the request that asked for it.
"""

from __future__ import annotations

from aiohttp import web

from license_report_sandbox import faults
from license_report_sandbox.kong import bodies, exposition, nginx, nodes, versions

#: The Kong chart's ``KONG_STATUS_LISTEN`` port (``0.0.0.0:8100, [::]:8100``).
PORT = 8100
#: The kubelet's probe User-Agent prefix (``kube-probe/<major>.<minor>``).
PROBE_AGENT = "kube-probe/"


def kind_of(request: web.Request) -> nginx.Kind:
    probe = request.headers.get("User-Agent", "").startswith(PROBE_AGENT)
    return nginx.Kind.PROBE if probe else nginx.Kind.STATUS


def answer(node: nodes.SimNode, request: web.Request) -> web.Response:
    """What the status listener answers (the request already counted)."""
    path = request.path
    ready = path == "/status/ready" and node.release.at_least(versions.V3_3)
    if path not in ("/status", "/metrics") and not ready:
        return faults.json_response(404, {"message": "Not found"})
    if request.method not in ("GET", "HEAD"):
        return faults.json_response(405, {"message": faults.message_for(405)})
    if path == "/metrics":
        return web.Response(text=exposition.metrics(node), content_type=exposition.CONTENT_TYPE)
    if ready:
        return faults.json_response(200, {"message": "ready"})
    return faults.json_response(200, bodies.status(node))
