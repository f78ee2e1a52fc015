"""Schedule tests run on looptime event loops: waits of months pass at once.

Every async test here (and its fixtures: the emulated API server, simulated
Kong pods) runs on a loop looptime made at its creation; the loop's time then
jumps to the next timer whenever nothing else is ready, while threads and
sockets are waited for in real time. (Patching a running loop instead hangs
on the client's calls, which run in threads.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import looptime
import pytest
from pytest_asyncio.plugin import LoopFactory


def _loop() -> asyncio.AbstractEventLoop:
    loop = looptime.new_event_loop()
    # asyncio fires a timer when ``when < time() + _clock_resolution``; its default (the
    # monotonic clock's 1e-9 s) vanishes in a float past ~10^7 s of loop time (four months
    # of schedule), and a timer due exactly now would never fire. looptime's own tick is 1e-6 s.
    loop._clock_resolution = 1e-6  # type: ignore[attr-defined]
    return loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    return {"looptime": _loop}
