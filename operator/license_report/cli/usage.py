"""The one usage error of every ``license-report`` subcommand.

A subcommand raises ``UsageError`` when its command line, or a file it names,
cannot be used as given; it prints the message and exits with ``EXIT_USAGE``
(2, as argparse does for the errors it finds itself) before doing anything.
"""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """The command line cannot be used as given: the message says what to change."""
