"""Fixtures for the simulators' own tests: a client session, a test CA, and no task left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme


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


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client; force_close so a node that stops listening is seen at once."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()
