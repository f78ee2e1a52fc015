"""Kong version strings and the release a behaviour first shipped in (kong-research.md §0).

Every "from 3.6" in the simulator is a comparison against a `Release` here, so
the version at which Kong changed something lives in one place, with its commit.
"""

from __future__ import annotations

import dataclasses
import re

EE_SUFFIX = "-enterprise-edition"

#: Kong EE master releases that changed what the simulator answers (commit: what).
V2_8 = (2, 8)  # 196dc9f0bb: entity counts absent without a counter row
V3_0 = (3, 0)  # e33c7bdb8a: kong.version without the -enterprise-edition suffix
V3_1 = (3, 1)  # 7bda2fe7db: consumers_count; OSS 94766211ef: &size=; 630f58de86: DP node_id kept
V3_2 = (3, 2)  # 9c65255a09: no prometheus instance => no shm metrics on /metrics
V3_3 = (3, 3)  # bd77954680: /status/ready
V3_4 = (3, 4)  # 858f8ccc14 / OSS 1ab321a902: DB-less /status drops `database`
V3_5 = (3, 5)  # a5675f3bde: the 3.5 report shape, checksum, MONTHS_TO_REPORT = 11
V3_6 = (3, 6)  # c014727394 / e8c3fbb9f1: `edition`; abc2579022: telemetry NONE => off
V3_7 = (3, 7)  # 918faf3110: healthz_ids not counted
V3_9 = (3, 9)  # 359d4fa4f1: entity counts by COUNT(*), zero => absent
V3_10 = (3, 10)  # d6f2b74f8c: entity count keys always present (0)

_NUMBERS = re.compile(r"^(\d+)\.(\d+)")


@dataclasses.dataclass(frozen=True)
class Release:
    """A node's version as Kong shows it, and the (major, minor) its behaviour follows."""

    #: ``kong.version`` as the report and ``GET /`` show it (2.x EE: with the suffix).
    version: str
    major_minor: tuple[int, int]
    enterprise: bool

    def at_least(self, wanted: tuple[int, int]) -> bool:
        return self.major_minor >= wanted

    @property
    def server_token(self) -> str:
        """``_VERSION``, the ``Server:`` header's ``kong/<...>``: EE keeps the suffix in 3.x."""
        if self.enterprise and not self.version.endswith(EE_SUFFIX):
            return self.version + EE_SUFFIX
        return self.version


def parse(version: str, *, enterprise: bool) -> Release:
    """Normalise ``version`` to what that Kong really shows.

    2.x Enterprise: ``meta._VERSION`` = package version + ``-enterprise-edition``
    (391a5ccef6:kong/meta.lua:26). 3.x Enterprise: ``meta.version`` without it
    (e33c7bdb8a; e95e9e897c:kong/enterprise_edition/meta.lua:8-26). So a 3.x
    string given with the suffix loses it, a 2.x Enterprise one gains it.
    """
    bare = version.removesuffix(EE_SUFFIX)
    match = _NUMBERS.match(bare)
    if match is None:
        raise ValueError(f"not a Kong version: {version!r}")
    major_minor = (int(match[1]), int(match[2]))
    shown = bare + EE_SUFFIX if enterprise and major_minor < V3_0 else bare
    return Release(version=shown, major_minor=major_minor, enterprise=enterprise)
