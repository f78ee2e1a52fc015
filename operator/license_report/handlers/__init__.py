"""kopf handlers: thin translations of Kubernetes events into report runs.

Importing this package registers the handlers with kopf's default registry.
"""

from license_report.handlers import metering, reporting, schedule, setup

__all__ = ["metering", "reporting", "schedule", "setup"]
