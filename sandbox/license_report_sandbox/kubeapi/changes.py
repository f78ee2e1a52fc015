"""The change log watches are served from: every write, in resourceVersion order, bounded.

A watch started from a ``resourceVersion`` replays the logged changes after it
and then follows new ones; once that version has fallen out of the log the
watch gets a 410 Gone ``ERROR`` event, and the client relists (as kopf and
client-go informers do). `ChangeLog.cut` ends every open stream at once (a test
hook for "watch streams cut": the client must watch again from the last
version it saw and miss nothing). Per watcher, a change is translated through its
selector: an object that starts matching is ADDED, one that stops matching is
DELETED, as the API server's watch cache does.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import AsyncIterator
from typing import Literal

from license_report_sandbox.kubeapi import errors, resources, selectors
from license_report_sandbox.kubeapi.resources import Body, Kind

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclasses.dataclass(frozen=True)
class Change:
    """One write: the object before (None on create) and after (the last state on delete)."""

    rv: int
    group_plural: tuple[str, str]
    type: EventType
    old: Body | None
    new: Body


class ChangeLog:
    """The last ``history`` changes, and the streams that follow them."""

    def __init__(self, *, history: int) -> None:
        self._log: collections.deque[Change] = collections.deque(maxlen=history)
        self._floor = 0  # changes up to this resourceVersion are no longer replayable
        self._changed = asyncio.Event()
        self._closed = False
        self._cuts = 0  # streams end when this differs from its value when they started
        self._open = 0  # streams being followed now

    def record(self, change: Change) -> None:
        if self._log.maxlen is not None and len(self._log) == self._log.maxlen:
            self._floor = self._log[0].rv
        self._log.append(change)
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        """End every stream (the server is going away)."""
        self._closed = True
        self._changed.set()

    def cut(self) -> int:
        """End every open stream now, as a real server ends a watch at its timeout or when
        it restarts: changes not yet sent are left for the client's next watch to replay.
        Returns how many streams were ended."""
        ended = self._open
        self._cuts += 1
        self._changed.set()
        self._changed = asyncio.Event()
        return ended

    def _after(self, cursor: int) -> list[Change]:
        pending = []
        for change in reversed(self._log):  # newest first; stop at what was already sent
            if change.rv <= cursor:
                break
            pending.append(change)
        pending.reverse()
        return pending

    async def stream(
        self,
        kind: Kind,
        *,
        wanted: selectors.Predicate,
        initial: list[Body],
        cursor: int,
        timeout: float | None,
    ) -> AsyncIterator[Body]:
        """``initial`` events, then those of changes after ``cursor``, until the timeout
        (or a `cut`)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        cuts = self._cuts
        self._open += 1
        try:
            for event in initial:
                yield event
            while not self._closed and self._cuts == cuts:
                if cursor < self._floor:
                    error = errors.gone(f"too old resource version: {cursor} ({self._floor + 1})")
                    yield {"type": "ERROR", "object": errors.status_body(error)}
                    return
                changed = self._changed
                pending = self._after(cursor)
                for change in pending:
                    if self._cuts != cuts:
                        break  # cut while the client read: the rest is for its next watch
                    cursor = change.rv
                    if change.group_plural == kind.group_plural:
                        translated = _event(kind, change, wanted)
                        if translated is not None:
                            yield translated
                if pending or self._closed or self._cuts != cuts:
                    continue  # more may have come while the client read; look again first
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    async with asyncio.timeout(remaining):
                        await changed.wait()
                except TimeoutError:
                    return
        finally:
            self._open -= 1


def _event(kind: Kind, change: Change, wanted: selectors.Predicate) -> Body | None:
    was = change.old is not None and wanted(change.old)
    now = wanted(change.new)
    served = resources.as_version(kind, change.new)
    match change.type:
        case "ADDED":
            return {"type": "ADDED", "object": served} if now else None
        case "DELETED":
            return {"type": "DELETED", "object": served} if was else None
        case "MODIFIED" if was and now:
            return {"type": "MODIFIED", "object": served}
        case "MODIFIED" if now:
            return {"type": "ADDED", "object": served}
        case "MODIFIED" if was:
            return {"type": "DELETED", "object": served}
    return None
