"""``license-report``: the command-line front of the operator and the engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from license_report.cli import collect, crd, demo, run, sandbox, verify


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="license-report",
        description="Kong Gateway license-usage reports.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    collect.register(commands)
    demo.register(commands)
    crd.register(commands)
    run.register(commands)
    sandbox.register(commands)
    verify.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
