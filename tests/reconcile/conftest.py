"""Fixtures for whole collections (the seeded datastore, ``seeded``, is in tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import Seeder

KEY = b"installation-key-0123456789abcdef"

__all__ = ["KEY", "Seeder"]
