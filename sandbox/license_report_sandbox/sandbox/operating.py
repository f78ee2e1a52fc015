"""The operator, ``license-report run``'s own main loop, in a thread and event loop of its own.

Not in the sandbox's loop: at shutdown kopf cancels every task of its loop that
it did not start with, which would include the emulated API server's and the
simulated gateways' handlers. It is stopped through kopf's stop flag (kopf
installs no signal handlers outside the main thread: the sandbox owns Ctrl-C).

No wait here blocks a worker thread: one left behind by a Ctrl-C would hold
the interpreter's exit for its whole timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
import time

from license_report.cli import loop
from license_report.cli import run as run_command
from license_report.handlers import context as operator_context

_POLL = 0.05


class OperatorError(RuntimeError):
    pass


@dataclasses.dataclass
class OperatorThread:
    context: operator_context.Context
    stop_flag: threading.Event = dataclasses.field(default_factory=threading.Event)
    ready_flag: threading.Event = dataclasses.field(default_factory=threading.Event)
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    #: Done when the thread's loop has ended (kopf stopped, or failed to start).
    _ended: concurrent.futures.Future[None] = dataclasses.field(
        default_factory=concurrent.futures.Future
    )

    def _main(self) -> None:
        try:
            loop.run(
                run_command.operate(
                    context=self.context, stop_flag=self.stop_flag, ready_flag=self.ready_flag
                )
            )
        except BaseException as error:  # reported by start() or stop()
            self.error = error
        finally:
            self._ended.set_result(None)

    async def start(self, *, timeout: float = 30.0) -> None:
        self._thread = threading.Thread(target=self._main, name="operator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.ready_flag.is_set():
            if not self._thread.is_alive():
                raise OperatorError(f"the operator stopped while starting: {self.error!r}")
            if time.monotonic() > deadline:
                raise OperatorError(f"the operator was not ready within {timeout:.0f} s")
            await asyncio.sleep(_POLL)

    async def stop(self, *, timeout: float = 30.0) -> None:
        """kopf's graceful shutdown; a thread still running after ``timeout`` is a daemon."""
        if self._thread is None:
            return
        self.stop_flag.set()
        try:
            # Shielded: a timeout must not cancel the future the thread will complete.
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._ended)), timeout)
        except TimeoutError:
            raise OperatorError(f"the operator did not stop within {timeout:.0f} s") from None
        self._thread = None
        if self.error is not None:
            raise OperatorError(f"the operator ended with an error: {self.error!r}")
