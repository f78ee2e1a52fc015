"""looptime event loops, for tests whose waits of days or months should pass at once.

The loop's time jumps to the next timer whenever nothing else is ready, while
threads and sockets are waited for in real time. (Patching a running loop
instead hangs on the Kubernetes client's calls, which run in threads.) A test
directory's conftest takes them with
``pytest_asyncio_loop_factories = looptime_loops.loop_factories``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import looptime
import pytest
from pytest_asyncio.plugin import LoopFactory


def new_loop() -> asyncio.AbstractEventLoop:
    loop = looptime.new_event_loop()
    # asyncio fires a timer when ``when < time() + _clock_resolution``; its default (the
    # monotonic clock's 1e-9 s) vanishes in a float past ~10^7 s of loop time (four months
    # of schedule), and a timer due exactly now would never fire. looptime's own tick is 1e-6 s.
    loop._clock_resolution = 1e-6  # type: ignore[attr-defined]
    return loop


def loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, LoopFactory]:
    return {"looptime": new_loop}
