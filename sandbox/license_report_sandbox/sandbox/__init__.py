"""``license-report sandbox``: the whole product at work on one machine, with nothing to set up.

It starts, all on loopback: an emulated Kubernetes API server (HTTPS, with a
kubeconfig that kubectl can use while it runs) holding the LicenseReportRequest
CRD; Kong gateway pods as the chart of --topology renders them (the Kong chart
with its PostgreSQL by default), a simulated Kong on each pod's loopback that
only the API server's port-forward reaches; a real PostgreSQL holding Kong's
tables and 14 months of usage, behind the sub-chart's Service; and the
operator itself, the code of ``license-report run``. It then applies a sample
LicenseReportRequest that is only a selector, shows its progress, prints the
report read back from the ConfigMap the operator wrote and what the operator
derived from the pods, and writes report.json, nodes.json and the tar into --out.
--topology metered has no PostgreSQL: its DB-less pods serve generated traffic,
the operator meters them through a rolling update, and the report rerun after
it (counters from the ledger, metering.json too) is shown beside what the pods
really proxied.

Exit codes: 0 the report Succeeded; 1 it Failed, or did not end within
--timeout; 2 usage error (a taken port or address); 3 Degraded
(some pods not reached: never expected here); 130 interrupted (Ctrl-C or
SIGTERM) before the report was done. With --keep-running everything stays up
after the report until Ctrl-C, and the exit code is then the report's.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
from typing import Any

from license_report.cli import collect
from license_report_sandbox.sandbox import options, preflight, terminal

#: Every temporary file and directory of a run lives under one directory of this prefix.
WORKDIR_PREFIX = "license-report-sandbox-"


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "sandbox",
        help="the operator at work on an emulated cluster, simulated Kong and a real PostgreSQL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_arguments(cmd)
    cmd.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    chosen = options.Options.from_args(args)
    try:
        plan = preflight.check(chosen)
    except preflight.PreflightError as error:
        terminal.Console().error(str(error))
        return collect.EXIT_USAGE
    # Imported only now: --help need not load the emulator and the simulators.
    from license_report_sandbox.sandbox import session

    session.configure_logging(level=chosen.log_level)
    try:
        with tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX) as scratch:
            return session.run_sandbox(chosen, plan=plan, workdir=pathlib.Path(scratch))
    except KeyboardInterrupt:  # a Ctrl-C before the sandbox's own signal handling is in place
        terminal.Console().error("interrupted")
        return terminal.EXIT_INTERRUPTED
