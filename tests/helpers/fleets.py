"""Simulated Kong fleets as the collector sees them: the ``fleet`` fixture's type, targets, and
whole collections of a running fleet."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from license_report.reconcile import collection
from license_report.report import models
from license_report.sources import kong
from license_report_sandbox import kong as sim
from tests.expected import NOW

#: The ``fleet`` fixture: ``async with fleet(nodes, **options) as running``.
FleetFactory = Callable[..., contextlib.AbstractAsyncContextManager[sim.Fleet]]

#: The installation hash key of `collection_request`.
KEY = b"installation-key-0123456789abcdef"


def targets(running: sim.Fleet) -> list[models.Target]:
    """Every node of ``running``, by name and Admin API URL."""
    return [models.Target(name=node.name, url=running.url(node)) for node in running.nodes]


def collection_request(running: sim.Fleet, **options: object) -> collection.Request:
    """A collection of every node of ``running`` at ``NOW``, hashed with ``KEY``."""
    values: dict[str, object] = {
        "targets": targets(running),
        "hash_key": KEY,
        "admin_api": kong.ClientSettings(timeout=1.0),
        "now": NOW,
    }
    values.update(options)
    return collection.Request(**values)  # type: ignore[arg-type]
