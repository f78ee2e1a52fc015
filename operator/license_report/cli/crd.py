"""``license-report crd``: print the CustomResourceDefinition generated from the models."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "crd", help="print the LicenseReportRequest CRD (generated from the API models)"
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported only now: building the models' schema is not for every invocation.
    from license_report.api import crd

    sys.stdout.write(crd.to_yaml())
    return 0
