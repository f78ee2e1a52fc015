"""How a simulated Kong node misbehaves: the `Fault` a test sets, and the answer it becomes.

The simulator first works out what a healthy node would answer (status and
JSON body), then `answer` turns that into what the faulty node actually sends.
Each fault imitates something met in the field: an overloaded node, a proxy
login page in front of the Admin API, a worker killed mid-response, a body
the collector must refuse to buffer, a misconfigured ingress redirecting to
itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import NoReturn

from aiohttp import web

#: Kong's default ``message`` for an error status (``kong/pdk/response.lua``);
#: 401 is the Admin API's RBAC wording rather than the proxy's "Unauthorized".
_MESSAGES = {
    400: "Bad request",
    401: "Invalid credentials. Token or User credentials required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    429: "Too many requests",
    500: "An unexpected error occurred",
    501: "Not implemented",
    502: "An invalid response was received from the upstream server",
    503: "The upstream server is currently unavailable",
    504: "The upstream server is timing out",
}

#: What a corporate proxy or a misrouted ingress shows instead of the Admin API.
_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    '<body><form method="post" action="/login"><input name="user">'
    '<input name="password" type="password"></form></body></html>\n'
)

_FILL = b"x" * (64 * 1024)


@dataclasses.dataclass
class Fault:
    """What a node does wrong; the default does nothing wrong.

    When several flags are set, the first in field order wins (after
    ``latency``, which always applies, and ``hang``).
    """

    latency: float = 0.0
    hang: bool = False
    status: int | None = None
    garbage: bool = False
    truncated: bool = False
    wrong_shape: bool = False
    reset: bool = False
    huge_body_bytes: int = 0
    redirect_loop: bool = False
    #: Only these request paths are affected; ``None`` means every path.
    paths: frozenset[str] | None = None

    def applies_to(self, path: str) -> bool:
        return self.paths is None or path in self.paths


def message_for(status: int) -> str:
    return _MESSAGES.get(status, f"The upstream server responded with {status}")


def dump(body: object) -> bytes:
    """Serialise like lua-cjson: compact, no spaces."""
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(status: int, body: object) -> web.Response:
    return web.Response(
        status=status, body=dump(body), content_type="application/json", charset="utf-8"
    )


async def hang() -> NoReturn:
    """Never answer: wait until the client goes away or the fleet stops (both cancel us)."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable: the future is never resolved")  # pragma: no cover


async def answer(
    request: web.Request, *, fault: Fault, status: int, body: object
) -> web.StreamResponse:
    """What the node sends, given what a healthy node would have answered."""
    if fault.status is not None:
        if fault.status in {204, 304} or fault.status < 200:
            return web.Response(status=fault.status)
        return json_response(fault.status, {"message": message_for(fault.status)})
    if fault.garbage:
        return web.Response(status=200, text=_HTML, content_type="text/html", charset="utf-8")
    if fault.truncated:
        data = dump(body)
        return web.Response(
            status=200,
            body=data[: len(data) // 2],
            content_type="application/json",
            charset="utf-8",
        )
    if fault.wrong_shape:
        return json_response(200, {"foo": 1})
    if fault.reset:
        return await _reset(request, dump(body))
    if fault.huge_body_bytes > 0:
        return await _huge(request, body=body, size=fault.huge_body_bytes)
    if fault.redirect_loop:
        return web.Response(status=302, headers={"Location": request.path_qs})
    return json_response(status, body)


async def _reset(request: web.Request, data: bytes) -> web.StreamResponse:
    """Promise the whole body in Content-Length, send half, then drop the connection.

    The handler then returns normally: aiohttp finds the transport gone, treats
    it as a client disconnect and logs nothing.
    """
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.charset = "utf-8"
    response.content_length = len(data)
    await response.prepare(request)
    try:
        await response.write(data[: max(1, len(data) // 2)])
    except ConnectionError:
        return response
    transport = request.transport
    if transport is not None:
        transport.abort()
    return response


async def _huge(request: web.Request, *, body: object, size: int) -> web.StreamResponse:
    """A valid JSON object of at least ``size`` bytes, streamed in chunks.

    The real body's fields follow a long ``padding`` string, so a client that
    reads it all would even parse it: only a size cap protects the collector.
    It is sent chunked (no Content-Length) so that the cap has to hold while
    reading, not only when looking at the headers.
    """
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.charset = "utf-8"
    response.enable_chunked_encoding()
    await response.prepare(request)
    closing = b'",' + dump(body)[1:] if isinstance(body, dict) and body else b'"}'
    try:
        await response.write(b'{"padding":"')
        remaining = size
        while remaining > 0:
            step = min(len(_FILL), remaining)
            await response.write(_FILL[:step])
            remaining -= step
        await response.write(closing)
    except ConnectionError:
        return response
    return response
