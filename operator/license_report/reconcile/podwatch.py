"""Gateway pods that start terminating, as the API server's watch tells them.

A plain watch on ``pods`` (the request's selector, one namespace), not a kopf
handler: kopf would write its progress annotations onto the gateway pods. It
is read with aiohttp and the operator's own credentials (`portforward.Connection`),
and kept as client-go's reflector keeps one: list for a resourceVersion, watch
from it with bookmarks, watch again from the last version seen when the stream
ends, list again when the server answers 410 Gone.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from license_report.sources import portforward

#: Seconds the API server keeps one watch open before the client starts the next.
WATCH_SECONDS = 300
#: Seconds between attempts after a failed list or watch.
BACKOFF_SECONDS = 2.0


class Gone(Exception):
    """The API server no longer has the resourceVersion watched from (410): list again."""


async def _get(
    http: aiohttp.ClientSession, connection: portforward.Connection, url: str
) -> aiohttp.ClientResponse:
    return await http.get(
        url,
        headers=await connection.headers(),
        ssl=connection.ssl,
        server_hostname=connection.server_hostname,
        proxy=connection.proxy,
        proxy_headers=connection.proxy_headers,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connection.timeout),
    )


def _url(connection: portforward.Connection, namespace: str, **query: str) -> str:
    path = f"/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}/pods"
    return f"{connection.base}{path}?{urllib.parse.urlencode(query)}"


async def terminating(
    *, connection: portforward.Connection, namespace: str, selector: str
) -> AsyncIterator[Mapping[str, Any]]:
    """Each matching pod once, as soon as its ``deletionTimestamp`` is seen (those already
    terminating when the watch starts included). Runs until cancelled; API errors are
    retried after a pause, as a reflector does."""
    announced: set[str] = set()
    async with aiohttp.ClientSession() as http:
        version: str | None = None
        while True:
            try:
                if version is None:
                    listed, version = await _list(http, connection, namespace, selector)
                    for pod in listed:
                        if _newly_terminating(pod, announced):
                            yield pod
                async for kind, pod in _watch(http, connection, namespace, selector, version):
                    version = pod["metadata"].get("resourceVersion") or version
                    if kind == "DELETED":
                        announced.discard(str(pod["metadata"].get("uid")))
                    elif kind != "BOOKMARK" and _newly_terminating(pod, announced):
                        yield pod
            except Gone:
                version = None
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                await asyncio.sleep(BACKOFF_SECONDS)


def _newly_terminating(pod: Mapping[str, Any], announced: set[str]) -> bool:
    metadata = pod.get("metadata") or {}
    uid = str(metadata.get("uid"))
    if metadata.get("deletionTimestamp") is None or uid in announced:
        return False
    announced.add(uid)
    return True


async def _list(
    http: aiohttp.ClientSession, connection: portforward.Connection, namespace: str, selector: str
) -> tuple[list[Mapping[str, Any]], str]:
    response = await _get(http, connection, _url(connection, namespace, labelSelector=selector))
    async with response:
        if response.status != 200:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message="listing pods"
            )
        listing = json.loads(await response.read())
    return listing.get("items") or [], str(listing["metadata"]["resourceVersion"])


async def _watch(
    http: aiohttp.ClientSession,
    connection: portforward.Connection,
    namespace: str,
    selector: str,
    version: str,
) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
    url = _url(
        connection,
        namespace,
        labelSelector=selector,
        watch="true",
        resourceVersion=version,
        allowWatchBookmarks="true",
        timeoutSeconds=str(WATCH_SECONDS),
    )
    response = await _get(http, connection, url)
    async with response:
        if response.status == 410:
            raise Gone()
        if response.status != 200:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message="watching pods"
            )
        async for line in response.content:
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "ERROR":
                if (event.get("object") or {}).get("code") == 410:
                    raise Gone()
                raise ValueError(f"watch error: {event.get('object')}")
            yield str(event.get("type")), event.get("object") or {}
