"""Fixtures for the simulators' own tests: a client session and a test CA."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client; force_close so a node that stops listening is seen at once."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()
