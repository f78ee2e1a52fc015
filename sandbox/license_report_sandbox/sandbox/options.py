"""The sandbox's command-line options, as one typed value."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import pathlib

#: Where the report files go unless --out says otherwise.
DEFAULT_OUT = "license-report-sandbox"


class Mode(enum.StrEnum):
    """How the simulated Kong runs; ``oss`` is Kong OSS in DB-less mode."""

    EE_DB = "ee-db"
    EE_DBLESS = "ee-dbless"
    OSS = "oss"

    @property
    def enterprise(self) -> bool:
        return self is not Mode.OSS

    @property
    def uses_datastore(self) -> bool:
        return self is Mode.EE_DB


class Topology(enum.StrEnum):
    """How Kong is deployed: the pods as that chart (or operator) renders them
    (`license_report_sandbox.topologies`), and the Secrets and Services its install has."""

    #: The Kong chart's defaults: DB-less, the Admin API on the pods' loopback only.
    CHART_DEFAULT = "chart-default"
    #: The Kong chart with its PostgreSQL sub-chart: the datastore behind a Service.
    CHART_POSTGRES = "chart-postgres"
    #: A hybrid control plane (PostgreSQL) and its data planes, matched by one selector.
    HYBRID = "hybrid"
    #: The kong/ingress chart: gateway pods ``app.kubernetes.io/name: gateway``, DB-less.
    INGRESS_CHART = "ingress-chart"
    #: The Kong Gateway Operator's DataPlane: its Admin API asks for a client certificate.
    GATEWAY_OPERATOR = "gateway-operator"
    #: The Kong chart's defaults (DB-less, no counts kept) with traffic and a rolling update
    #: while the operator meters it (issue 14): the report's counters come from its ledger.
    METERED = "metered"

    @property
    def uses_datastore(self) -> bool:
        return self in (Topology.CHART_POSTGRES, Topology.HYBRID)

    @property
    def addresses_per_pod(self) -> int:
        """Loopback addresses a pod needs over the run: ``metered`` replaces every pod once,
        and the new pods start while the old ones still serve."""
        return 2 if self is Topology.METERED else 1


#: What the older --mode chose, as a topology: ee-db and ee-dbless were the Kong chart
#: with and without PostgreSQL; oss is the chart's defaults with Kong OSS's image.
MODE_TOPOLOGIES = {
    Mode.EE_DB: Topology.CHART_POSTGRES,
    Mode.EE_DBLESS: Topology.CHART_DEFAULT,
    Mode.OSS: Topology.CHART_DEFAULT,
}


#: The simulated Kong's version unless --kong-version says otherwise, by edition.
DEFAULT_VERSIONS = {True: "3.4.3.12", False: "3.9.1"}


@dataclasses.dataclass(frozen=True)
class Options:
    pods: int = 3
    #: None: the one --mode implies, else chart-postgres.
    topology: Topology | None = None
    #: None: Enterprise, with or without a datastore as the topology has it.
    mode: Mode | None = None
    #: None: DEFAULT_VERSIONS for the mode's edition.
    kong_version: str | None = None
    latency: float = 0.0
    out: pathlib.Path = pathlib.Path(DEFAULT_OUT)
    keep_running: bool = False
    api_port: int = 0
    admin_port: int = 0
    postgres_port: int = 0
    first_address: str = "127.0.0.2"
    timeout: float = 120.0
    retry_seconds: float = 10.0
    log_level: str = "WARNING"

    @property
    def deployment(self) -> Topology:
        """The topology asked for, or the one --mode implies (checked to agree by preflight)."""
        if self.topology is not None:
            return self.topology
        return MODE_TOPOLOGIES[self.mode] if self.mode else Topology.CHART_POSTGRES

    @property
    def enterprise(self) -> bool:
        return self.mode is not Mode.OSS

    @property
    def version(self) -> str:
        """The simulated Kong's version: the one asked for, or the edition's default."""
        return self.kong_version or DEFAULT_VERSIONS[self.enterprise]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def add_arguments(cmd: argparse.ArgumentParser) -> None:
    defaults = Options()
    cmd.add_argument(
        "--pods", type=int, default=defaults.pods, help="simulated Kong gateway pods (default 3)"
    )
    cmd.add_argument(
        "--topology",
        type=Topology,
        choices=list(Topology),
        default=None,
        help="how Kong is deployed, its pods as that chart renders them: chart-postgres (the "
        "default: the Kong chart with its PostgreSQL, Admin API on loopback), chart-default, "
        "hybrid, ingress-chart, gateway-operator",
    )
    cmd.add_argument(
        "--mode",
        type=Mode,
        choices=list(Mode),
        default=None,
        help="the older shorthand: ee-db is --topology chart-postgres, ee-dbless is "
        "chart-default, oss is chart-default with Kong OSS's image (with --topology: the "
        "edition, oss or Enterprise)",
    )
    cmd.add_argument(
        "--kong-version",
        metavar="VERSION",
        help=f"the simulated Kong's version, which decides the report's shape and window as "
        f"it does Kong's (default {DEFAULT_VERSIONS[True]} for Enterprise, "
        f"{DEFAULT_VERSIONS[False]} for OSS; e.g. 2.8.4.1, 3.5.0.7, 3.9.1.2)",
    )
    cmd.add_argument(
        "--latency",
        type=float,
        default=defaults.latency,
        metavar="SECONDS",
        help="added to every Admin API answer of the simulated pods (default 0)",
    )
    cmd.add_argument(
        "--out",
        type=pathlib.Path,
        default=defaults.out,
        metavar="DIR",
        help=f"where report.json, nodes.json and the tar go (default ./{DEFAULT_OUT})",
    )
    cmd.add_argument(
        "--keep-running",
        action="store_true",
        help="after the report, keep everything up for kubectl until Ctrl-C",
    )
    cmd.add_argument(
        "--api-port",
        type=int,
        default=defaults.api_port,
        metavar="PORT",
        help="the Kubernetes API's port on 127.0.0.1 (default 0: a free one)",
    )
    cmd.add_argument(
        "--admin-port",
        type=int,
        default=defaults.admin_port,
        metavar="PORT",
        help="the simulated pods' Admin API port, on every pod address (default 0: a free one)",
    )
    cmd.add_argument(
        "--postgres-port",
        type=int,
        default=defaults.postgres_port,
        metavar="PORT",
        help="PostgreSQL's port on 127.0.0.1 (default 0: a free one)",
    )
    cmd.add_argument(
        "--first-address",
        default=defaults.first_address,
        metavar="ADDRESS",
        help="the first pod's loopback address; the others follow (default 127.0.0.2)",
    )
    cmd.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        metavar="SECONDS",
        help="how long to wait for the report (default 120)",
    )
    cmd.add_argument(
        "--retry-seconds",
        type=float,
        default=defaults.retry_seconds,
        metavar="SECONDS",
        help="how long the operator retries transient problems before Failed (default 10)",
    )
    cmd.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", defaults.log_level),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the operator's log level (default WARNING; its logs go to stderr)",
    )
