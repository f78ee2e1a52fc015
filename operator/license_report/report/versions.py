"""A Kong fleet's version, and what that version of Kong writes in its report.

Every "from 3.5" rule of the report lives here, with the Kong commit that
made it (docs/kong-fidelity.md cites the source): the report's shape and
window, when ``consumers_count`` joined the 2.x shape, how a DB-less
``db_version`` reads, and how entity counts are counted.
"""

from __future__ import annotations

import dataclasses
import re

#: Kong Enterprise 2.x's ``kong.version`` suffix (391a5ccef6:kong/meta.lua:26); 3.x drops it
#: from ``kong.version`` (e33c7bdb8a).
ENTERPRISE_SUFFIX = "-enterprise-edition"

#: 7bda2fe7db (3.1): ``consumers_count`` in the 2.x-shape report.
CONSUMERS_COUNT = (3, 1)
#: a5675f3bde (3.5): the 3.5 shape, its checksum, a 12-month window, ``db_version`` "off".
SHAPE_3_5 = (3, 5)
#: 359d4fa4f1 (3.9): entity counts by ``COUNT(*)`` instead of ``workspace_entity_counters``.
COUNT_ROWS = (3, 9)

_NUMBERS = re.compile(r"(\d+)\.(\d+)")


@dataclasses.dataclass(frozen=True, order=True)
class Release:
    """A Kong version's (major, minor): what its report follows. ``(0, 0)``: not a version."""

    major: int
    minor: int

    def at_least(self, wanted: tuple[int, int]) -> bool:
        return (self.major, self.minor) >= wanted


def parse(version: str) -> Release:
    """``"2.8.4.1-enterprise-edition"``, ``"3.4.3.12"``, ``"3.9.1"``: the leading major.minor.

    A string that does not start with one gives ``Release(0, 0)``, the oldest
    rules, rather than an error: the report still gets made, in the 2.x shape.
    """
    match = _NUMBERS.match(version.strip())
    return Release(0, 0) if match is None else Release(int(match[1]), int(match[2]))


def enterprise_suffix(version: str) -> bool:
    """Kong Enterprise 2.x says what it is in its version string."""
    return version.endswith(ENTERPRISE_SUFFIX)
