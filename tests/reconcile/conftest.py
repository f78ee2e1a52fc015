"""Helpers for whole collections (the seeded datastore, ``seeded``, is in tests/conftest.py)."""

from __future__ import annotations

from license_report.reconcile import collection
from license_report.report import models
from license_report.sources import kong
from license_report_sandbox import kong as sim
from tests.expected import NOW

KEY = b"installation-key-0123456789abcdef"


def collection_request(running: sim.Fleet, **options: object) -> collection.Request:
    """A collection of every node of ``running`` at ``NOW``, hashed with ``KEY``."""
    targets = [models.Target(name=n.name, url=running.url(n)) for n in running.nodes]
    values: dict[str, object] = {
        "targets": targets,
        "hash_key": KEY,
        "admin_api": kong.ClientSettings(timeout=1.0),
        "now": NOW,
    }
    values.update(options)
    return collection.Request(**values)  # type: ignore[arg-type]
