"""The metering simulator's tests run on looptime loops: days of traffic pass at once.

As in tests/schedule (`looptime_loops`); sockets (the status listener, the
emulator) are waited for in real time.
"""

from __future__ import annotations

import datetime

from tests.helpers import looptime_loops

#: Where the simulated clock starts: mid-month, UTC.
START = datetime.datetime(2026, 3, 15, 12, 0, tzinfo=datetime.UTC)

pytest_asyncio_loop_factories = looptime_loops.loop_factories
