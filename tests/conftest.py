"""What every test area shares: no asyncio task left behind, hypothesis' CI profile, and the
shared fixtures of ``tests/plugins`` (pytest reads ``pytest_plugins`` only here, in the rootdir
conftest). Tests import helpers from ``tests/helpers``, never from a conftest."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings as hypothesis_settings

pytest_plugins = [
    "tests.plugins.cluster",
    "tests.plugins.datastores",
    "tests.plugins.fleets",
]

# CI explores the same examples every run (reproducible); locally, new ones each time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running: a fleet must stop everything it started."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)  # let tasks that were just cancelled or finished settle
    leftover = {
        task
        for task in asyncio.all_tasks() - before
        if not task.done() and task is not asyncio.current_task()
    }
    for task in leftover:
        task.cancel()
    assert not leftover, f"tasks left behind: {leftover}"
