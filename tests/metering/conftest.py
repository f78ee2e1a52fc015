"""Metering tests run on looptime loops: days of traffic and sampling pass at once.

As in tests/schedule: the loop's time jumps to the next timer whenever nothing
else is ready; sockets (the status listeners, the emulated API server) are
waited for in real time. The operator's clock, the emulator's timestamps and
the simulated traffic all follow the loop's time (`kong.LoopClock`).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping

import looptime
import pytest
from pytest_asyncio.plugin import LoopFactory

#: Where the simulated clock starts: mid-month, UTC.
START = datetime.datetime(2026, 3, 15, 12, 0, tzinfo=datetime.UTC)


def _loop() -> asyncio.AbstractEventLoop:
    loop = looptime.new_event_loop()
    loop._clock_resolution = 1e-6  # type: ignore[attr-defined]  # see tests/schedule/conftest.py
    return loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    return {"looptime": _loop}
