"""The report tests' ``node`` fixture: the observation builder of `tests.helpers.observations`."""

from __future__ import annotations

import pytest

from tests.helpers.observations import ObservationFactory, observation


@pytest.fixture
def node() -> ObservationFactory:
    return observation
