"""Several GETs to one server sent at once on one connection (HTTP/1.1 pipelining, RFC 9112
9.3.2), the answers read in order.

A node reached through a port-forward is asked ``/``, ``/status`` and
``/license/report`` on one connection, since each new one is a WebSocket to
the API server and a TLS handshake with Kong. aiohttp sends a request only
once the previous answer is read: three round trips to the Admin API per
node, which at 64 nodes at once made a thousand forwarded pods wait on
latency as much as on CPU (docs/benchmarks.md, issue 13). Sent together they
cost one. Kong (nginx) answers pipelined requests in order, as every
HTTP/1.1 server must; httptools parses the answers.

Only what the Admin API client needs: GET, a status, a capped body and a
``Location``. A connection closed with answers still owed raises
`Unanswered` with the answers read so far, so the caller can ask the rest
another way; bytes that are not HTTP raise `NotHTTP`.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httptools


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    too_large: bool = False  # the body went past the limit: ``body`` is cut there
    location: str | None = None


class NotHTTP(ValueError):
    """What came back is not an HTTP/1.1 answer."""


class Unanswered(ConnectionResetError):
    """The connection closed before every answer came: ``answers`` holds those that did."""

    def __init__(self, message: str, *, answers: list[Answer]) -> None:
        super().__init__(message)
        self.answers = answers


def request(*, path: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Reader(asyncio.Protocol):
    """Answers of a connection in order, each a future that `next` awaits."""

    def __init__(self, *, expected: int, limit: int) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._limit = limit
        self._expected = expected
        self._answers: list[Answer] = []
        self._arrived = asyncio.Event()
        self._error: Exception | None = None
        self.transport: asyncio.BaseTransport | None = None
        self._body = bytearray()
        self._too_large = False
        self._location: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._error is not None:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(NotHTTP(f"not an HTTP answer ({error})"))

    def connection_lost(self, exc: Exception | None) -> None:
        # The parser refers back to this reader: let go of the connection (its TLS buffers)
        # now rather than at the next full garbage collection.
        self.transport = None
        if len(self._answers) < self._expected and self._error is None:
            self._fail(
                Unanswered(
                    f"the connection closed after {len(self._answers)} of"
                    f" {self._expected} answers" + (f" ({exc})" if exc else ""),
                    answers=list(self._answers),
                )
            )

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._arrived.set()
        if self.transport is not None:
            self.transport.close()

    # httptools' callbacks
    def on_message_begin(self) -> None:
        self._body = bytearray()
        self._too_large = False
        self._location = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"location":
            self._location = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        room = self._limit + 1 - len(self._body)
        if room > 0:
            self._body += body[:room]
        if len(self._body) > self._limit:
            self._too_large = True

    def on_message_complete(self) -> None:
        self._answers.append(
            Answer(
                status=self._parser.get_status_code(),
                body=bytes(self._body[: self._limit]),
                too_large=self._too_large,
                location=self._location,
            )
        )
        self._arrived.set()

    async def next(self, index: int) -> Answer:
        """The ``index``-th answer (from 0), once it has come."""
        while len(self._answers) <= index:
            if self._error is not None:
                raise self._error
            self._arrived.clear()
            await self._arrived.wait()
        return self._answers[index]
