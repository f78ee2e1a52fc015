"""Helpers for the sources' tests."""

from __future__ import annotations

from license_report.report import models
from license_report_sandbox import kong as sim


def targets(running: sim.Fleet) -> list[models.Target]:
    return [models.Target(name=node.name, url=running.url(node)) for node in running.nodes]
