"""Run the real ``license-report`` executable, as a user would: the runner type, the
sandbox's environment, and a sandbox child whose output a test reads line by line."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

Runner = Callable[..., subprocess.CompletedProcess[str]]
EXECUTABLE = pathlib.Path(sys.executable).with_name("license-report")


def sandbox_env(tmpdir: pathlib.Path, config: pathlib.Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LICENSE_REPORT_", "PG")) and key != "KUBECONFIG"
    }
    environment.update(TMPDIR=str(tmpdir), XDG_CONFIG_HOME=str(config))
    return environment


@dataclasses.dataclass
class SandboxProcess:
    """``license-report sandbox`` in a child process, its merged output read line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = dataclasses.field(default_factory=list)
    _queue: queue.Queue[str | None] = dataclasses.field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, *, timeout: float = 30.0) -> re.Match[str]:
        """The first line (after those already read) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + self.output)

    def finish(self, *, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout=timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        """Stop it if it still runs (SIGINT, then SIGKILL), then release its pipe."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)  # it ends at the end of the output
        if self.process.stdout is not None:
            self.process.stdout.close()
