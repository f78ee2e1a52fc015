"""Fixtures shared across test areas, loaded by ``pytest_plugins`` in tests/conftest.py."""
