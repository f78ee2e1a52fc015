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
from typing import Any

from license_report.cli import collect, crd, run, verify

#: The entry-point group other distributions add subcommands through.
COMMANDS_GROUP = "license_report.commands"
#: Subcommands that another distribution provides: named, with what to install, when absent.
PLUGGED_IN = {"sandbox": "license-report-sandbox", "demo": "license-report-sandbox"}


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
    plugged = sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name)
    for entry in plugged:
        entry.load()(commands)
    for name, distribution in PLUGGED_IN.items():
        if name not in {entry.name for entry in plugged}:
            _absent(commands, name=name, distribution=distribution)
    return top


def _absent(commands: Any, *, name: str, distribution: str) -> None:
    """A subcommand whose distribution is not installed: it says what to install."""

    def handler(args: argparse.Namespace) -> int:
        print(
            f"license-report {name}: comes with the {distribution} distribution, which is "
            f"not installed (from a checkout: pip install ./sandbox, or make sandbox)",
            file=sys.stderr,
        )
        return 2

    cmd = commands.add_parser(name, help=f"(needs {distribution})", add_help=False)
    cmd.set_defaults(handler=handler, absent=True)


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args, unknown = top.parse_known_args(argv)
    if unknown and not getattr(args, "absent", False):
        top.error(f"unrecognized arguments: {' '.join(unknown)}")
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
