"""Schedule tests run on looptime event loops: waits of months pass at once.

Every async test here (and its fixtures: the emulated API server, simulated
Kong pods) runs on a loop looptime made at its creation (`looptime_loops`).
"""

from __future__ import annotations

from tests.helpers import looptime_loops

pytest_asyncio_loop_factories = looptime_loops.loop_factories
