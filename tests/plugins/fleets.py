"""Simulated Kong nodes, served in the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from license_report_sandbox import kong as sim
from tests.helpers.fleets import FleetFactory


@pytest.fixture
def fleet() -> FleetFactory:
    """Start simulated Kong nodes: ``async with fleet(nodes, **options) as running``."""

    @contextlib.asynccontextmanager
    async def start(nodes: Sequence[sim.SimNode], **options: Any) -> AsyncIterator[sim.Fleet]:
        async with sim.Fleet(nodes, **options) as running:
            yield running

    return start
