"""``license-report crd``: print the CustomResourceDefinition generated from the models."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from license_report.api import crd


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "crd", help="print the LicenseReportRequest CRD (generated from the API models)"
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(crd.to_yaml())
    return 0
