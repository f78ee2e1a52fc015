"""``license-report``: the command-line front of the operator and the engine.

Subcommands of other distributions plug in through the entry-point group
``license_report.commands`` (each entry a ``register(commands)`` function):
the sandbox distribution adds ``sandbox`` and ``demo`` that way, so the
operator itself carries none of the simulators.

Start-up is kept short (``bench/cli.py`` measures it): the subcommand modules
imported here hold only their flags, and each handler imports what its work
needs when it runs, so ``collect`` loads neither kopf nor the Kubernetes
client. Looking up other distributions' subcommands reads every installed
distribution's metadata, so it is done only when the command line does not
name one of ours (``license-report --help`` lists them all).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from license_report.cli import collect, crd, run, verify

#: The entry-point group other distributions add subcommands through.
COMMANDS_GROUP = "license_report.commands"
#: The operator's own subcommands, by name.
BUILT_IN = {"collect": collect, "crd": crd, "run": run, "verify": verify}
#: Subcommands that another distribution provides: named, with what to install, when absent.
PLUGGED_IN = {"sandbox": "license-report-sandbox", "demo": "license-report-sandbox"}


def parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """Every subcommand's flags; ``plugins=False`` leaves out other distributions'."""
    top = argparse.ArgumentParser(
        prog="license-report",
        description="Kong Gateway license-usage reports.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in BUILT_IN.values():
        module.register(commands)
    if plugins:
        from importlib import metadata

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


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs: its first word, as the top level takes no option but
    ``--help`` (``license-report --help collect`` shows the top level's help, plugins too)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = parser(plugins=_command(argv) not in BUILT_IN)
    args, unknown = top.parse_known_args(argv)
    if unknown and not getattr(args, "absent", False):
        top.error(f"unrecognized arguments: {' '.join(unknown)}")
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
