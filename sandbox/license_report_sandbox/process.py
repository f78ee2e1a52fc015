"""A simulated Kong fleet in a child process: for benchmarks (the collector is
measured alone) and for tests that run the real CLI against it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def announced(command: list[str]) -> Iterator[dict[str, Any]]:
    """Run ``command``, a fleet that prints one JSON line once it listens; that line while
    it runs. The child is terminated on the way out, whatever happened."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line:
                raise RuntimeError(f"the simulated fleet did not start (exit {child.wait()})")
            yield json.loads(line)
        finally:
            child.terminate()
            child.wait(timeout=30)


@contextlib.contextmanager
def spawn_fleet(
    *, count: int, mode: str, latency: float = 0.0, services: int = 0
) -> Iterator[dict[str, Any]]:
    command = [
        sys.executable, "-m", "license_report_sandbox.kong",
        "--count", str(count), "--mode", mode,
        "--latency", str(latency), "--services", str(services),
    ]  # fmt: skip
    with announced(command) as line:
        yield line
