"""What datastore tests share: the ``kong`` role's password, the ``seeded`` fixture's type."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from license_report.sources import datastore
from license_report_sandbox import seed

#: The ``kong`` role's password; random so that a test finding it in a message
#: cannot pass by coincidence.
KONG_PASSWORD = f"kong-{secrets.token_urlsafe(12)}"

#: The ``seeded`` fixture: apply a seed definition to a fresh database, get its settings.
Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]
