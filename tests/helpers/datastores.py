"""What datastore tests share: the ``kong`` role's password, the ``seeded`` fixture's type, and
the sample seed most reports are checked against."""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from collections.abc import Callable

from license_report.sources import datastore
from license_report_sandbox import seed
from tests import expected

#: The ``kong`` role's password; random so that a test finding it in a message
#: cannot pass by coincidence.
KONG_PASSWORD = f"kong-{secrets.token_urlsafe(12)}"

#: The ``seeded`` fixture: apply a seed definition to a fresh database, get its settings.
Seeder = Callable[[seed.Seed], datastore.DatastoreSettings]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sample:
    """A sample seed in a test database, and the counters a 12-month report of it must show."""

    definition: seed.Seed
    settings: datastore.DatastoreSettings
    totals: dict[str, int]


def seed_sample(seeded: Seeder, *, nodes: int, window: int) -> Sample:
    """Seed 14 months of ``nodes`` nodes up to today; ``totals`` is what a report whose window
    is ``window`` months must show, worked out from the seed (with a 12-month window, a report
    that counts too far back shows up)."""
    now = datetime.datetime.now(datetime.UTC)
    definition = seed.sample_seed(now=now.date(), nodes=nodes, months=14)
    settings = seeded(definition)
    totals = expected.monthly_totals(definition, months=window, now=now)
    return Sample(definition=definition, settings=settings, totals=totals)
