"""Fixtures for the sources' tests: simulated Kong fleets and a client session."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
import pytest

from license_report.report import models
from license_report.sim import kong as sim
from license_report.sources import kong

FleetFactory = Callable[..., contextlib.AbstractAsyncContextManager[sim.Fleet]]


@pytest.fixture
def fleet() -> FleetFactory:
    @contextlib.asynccontextmanager
    async def start(nodes: Sequence[sim.SimNode], **options: Any) -> AsyncIterator[sim.Fleet]:
        async with sim.Fleet(nodes, **options) as running:
            yield running

    return start


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with kong.new_session(kong.Settings()) as client:
        yield client


def targets(running: sim.Fleet) -> list[models.Target]:
    return [models.Target(name=node.name, url=running.url(node)) for node in running.nodes]
