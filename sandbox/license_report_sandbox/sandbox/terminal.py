"""What the sandbox tells its user: progress lines timed from the start, the report, errors.

A reader that goes away (``license-report sandbox | head``) must not turn the
rest of the run, its clean stop included, into a traceback: output then goes
nowhere, and the stop goes on.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

PROG = "license-report sandbox"
#: The exit code of a run stopped by Ctrl-C (or SIGTERM) before its report was done.
EXIT_INTERRUPTED = 130


class Console:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def say(self, message: str) -> None:
        """A progress line, with the seconds since the start."""
        self._write(sys.stdout, f"[{time.monotonic() - self._start:5.1f}s] {message}")

    def show(self, text: str) -> None:
        self._write(sys.stdout, text)

    def error(self, message: str) -> None:
        self._write(sys.stderr, f"{PROG}: {message}")

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        try:
            print(text, file=stream, flush=True)
        except BrokenPipeError:
            # As Python's documentation advises: point the stream at /dev/null, so
            # that the interpreter's own final flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
