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
import io
import json
import sys
import tarfile
from typing import Any, TextIO

from license_report.report import formats, packaging, signing

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
#: Reports are kilobytes; anything this large is not one.
MAX_REPORT_BYTES = 64 * 1024 * 1024


class UsageError(Exception):
    pass


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


def _read(path: str, *, what: str) -> bytes:
    try:
        with open(path, "rb") as file:
            content = file.read(MAX_REPORT_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read the {what} {path}: {error.strerror}") from None
    if len(content) > MAX_REPORT_BYTES:
        raise UsageError(f"the {what} {path} is larger than any report")
    return content


def report_bytes(path: str) -> bytes:
    """The report's exact bytes: the file itself, or a tar's ``response.json``."""
    content = _read(path, what="report")
    if content.lstrip()[:1] == b"{":
        return content
    try:
        with tarfile.open(fileobj=io.BytesIO(content)) as tar:
            member = tar.getmember(packaging.TAR_MEMBER)
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is None or member.size > MAX_REPORT_BYTES:
                raise UsageError(f"{path}: {packaging.TAR_MEMBER} is not a regular file")
            return extracted.read()
    except tarfile.TarError:
        raise UsageError(f"{path} is neither a report.json nor a report tar") from None
    except KeyError:
        raise UsageError(f"the tar {path} holds no {packaging.TAR_MEMBER}") from None


def _signature_check(args: argparse.Namespace, data: bytes) -> tuple[bool, str] | None:
    if args.signature is None and args.public_key is None:
        return None
    if args.signature is None or args.public_key is None:
        raise UsageError("--signature and --public-key go together")
    try:
        public_key = signing.load_public_key(_read(args.public_key, what="public key"))
    except signing.BadKey as error:
        raise UsageError(f"the public key file {args.public_key} {error}") from None
    try:
        signature = signing.parse_signature(_read(args.signature, what="signature"))
    except signing.SignatureFormatError as error:
        raise UsageError(f"the signature file {args.signature} {error}") from None
    if signing.verify(public_key=public_key, data=data, signature=signature):
        return True, "signature: OK (Ed25519, the exact bytes of the report)"
    return False, (
        "signature: FAILED: it does not match this report under this key "
        "(the report was changed, or signed with another key)"
    )


def _checksum_check(document: object) -> tuple[bool, str] | None:
    if not isinstance(document, dict) or formats.CHECKSUM_KEY not in document:
        return None
    stated = document[formats.CHECKSUM_KEY]
    try:
        recipe = formats.matching_recipe(document)
    except TypeError as error:
        return False, f"checksum: FAILED: the report holds what no report holds ({error})"
    if recipe is not None:
        return True, f"checksum: OK ({stated}, {recipe})"
    return False, (
        f"checksum: FAILED: the report says {stated!r}; its content gives "
        f"{formats.checksum(document)} (Kong's recipe), and the earlier recipe does not match"
    )


def run(
    args: argparse.Namespace, *, out_stream: TextIO | None = None, err: TextIO | None = None
) -> int:
    out_stream = out_stream or sys.stdout
    err = err or sys.stderr
    try:
        data = report_bytes(args.report)
        results = [check for check in [_signature_check(args, data)] if check is not None]
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            results.append((False, "report: FAILED: not valid JSON (damaged, or not a report)"))
        else:
            checksum = _checksum_check(document)
            if checksum is not None:
                results.append(checksum)
        if not results:
            raise UsageError(
                "nothing to verify: this report has no checksum (kong-2.7); "
                "give --signature and --public-key"
            )
    except UsageError as error:
        print(f"license-report verify: {error}", file=err)
        return EXIT_USAGE
    for passed, message in results:
        print(message, file=out_stream if passed else err)
    if all(passed for passed, _ in results):
        print(f"{args.report}: valid", file=out_stream)
        return EXIT_VALID
    print(f"license-report verify: {args.report} is NOT valid", file=err)
    return EXIT_INVALID
