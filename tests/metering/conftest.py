"""Metering tests run on looptime loops: days of traffic and sampling pass at once.

As in tests/schedule (`looptime_loops`): sockets (the status listeners, the
emulated API server) are waited for in real time. The operator's clock, the
emulator's timestamps and the simulated traffic all follow the loop's time
(`kong.LoopClock`).
"""

from __future__ import annotations

import datetime

from tests.helpers import looptime_loops

#: Where the simulated clock starts: mid-month, UTC.
START = datetime.datetime(2026, 3, 15, 12, 0, tzinfo=datetime.UTC)

pytest_asyncio_loop_factories = looptime_loops.loop_factories
