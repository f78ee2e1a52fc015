"""``license-report``: the command-line front of the operator and the engine.

Subcommands of other distributions plug in through the entry-point group
``license_report.commands`` (each entry a ``register(commands)`` function):
the sandbox distribution adds ``sandbox`` and ``demo`` that way, so the
operator itself carries none of the simulators.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from license_report.cli import collect, crd, run, verify

#: The entry-point group other distributions add subcommands through.
COMMANDS_GROUP = "license_report.commands"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="license-report",
        description="Kong Gateway license-usage reports.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    collect.register(commands)
    crd.register(commands)
    run.register(commands)
    verify.register(commands)
    for entry in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry.load()(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
