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

from license_report.cli import collect, crd, run, verify

#: The entry-point group other distributions add subcommands through.
COMMANDS_GROUP = "license_report.commands"
#: The operator's own subcommands, by name.
BUILT_IN = {"collect": collect, "crd": crd, "run": run, "verify": verify}


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

        for entry in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
            entry.load()(commands)
    return top


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs: its first word, as the top level takes no option but
    ``--help`` (``license-report --help collect`` shows the top level's help, plugins too)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(plugins=_command(argv) not in BUILT_IN).parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
