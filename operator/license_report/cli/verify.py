"""``license-report verify``: check a report's signature and checksum.

REPORT is a ``report.json`` or a report tar (``report-*.tar``, whose
``response.json`` holds the same bytes). With ``--signature`` and
``--public-key`` the Ed25519 signature of those exact bytes is checked; a
``kong-3.5`` report's ``checksum`` is always checked: Kong's recipe (SHA-1
of Lua ``inspect`` of the report), or the earlier one (SHA-1 of its RFC 8785
canonical JSON), which reports made before still carry. Verify against a
public key you trust, obtained apart from the report: the
``report.json.pub`` written beside a report proves only that the report and
that key match.

Exit codes: 0 every check passed, 1 a check failed (the report was changed,
damaged, or signed with another key), 2 usage error (nothing to check, a
file that cannot be read, a key or signature file that is not one).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from license_report.cli import usage

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, usage.EXIT_USAGE


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "verify",
        help="check a report's signature and checksum",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("report", metavar="REPORT", help="report.json, or a report tar")
    cmd.add_argument(
        "--signature",
        metavar="FILE",
        help="the signature (report.json.sig: base64, or the 64 raw bytes)",
    )
    cmd.add_argument("--public-key", metavar="FILE", help="the signer's Ed25519 public key (PEM)")
    cmd.set_defaults(handler=run)


def run(
    args: argparse.Namespace, *, out_stream: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The handler; the checks (and the cryptography they need) are imported only now."""
    from license_report.cli import verifying

    return verifying.run(args, out_stream=out_stream or sys.stdout, err=err or sys.stderr)
