"""What ``license-report verify`` does once its flags are parsed: the checks.

Loaded by the ``verify`` handler only (``cli/verify.py`` holds the flags), so
that the other subcommands and ``--help`` do not load the report models and
the cryptography library.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from typing import TextIO

from license_report.cli import usage, verify
from license_report.report import formats, packaging, signing

#: Reports are kilobytes; anything this large is not one.
MAX_REPORT_BYTES = 64 * 1024 * 1024


def _read(path: str, *, what: str) -> bytes:
    try:
        with open(path, "rb") as file:
            content = file.read(MAX_REPORT_BYTES + 1)
    except OSError as error:
        raise usage.UsageError(f"cannot read the {what} {path}: {error.strerror}") from None
    if len(content) > MAX_REPORT_BYTES:
        raise usage.UsageError(f"the {what} {path} is larger than any report")
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
                raise usage.UsageError(f"{path}: {packaging.TAR_MEMBER} is not a regular file")
            return extracted.read()
    except tarfile.TarError:
        raise usage.UsageError(f"{path} is neither a report.json nor a report tar") from None
    except KeyError:
        raise usage.UsageError(f"the tar {path} holds no {packaging.TAR_MEMBER}") from None


def _signature_check(args: argparse.Namespace, data: bytes) -> tuple[bool, str] | None:
    if args.signature is None and args.public_key is None:
        return None
    if args.signature is None or args.public_key is None:
        raise usage.UsageError("--signature and --public-key go together")
    try:
        public_key = signing.load_public_key(_read(args.public_key, what="public key"))
    except signing.BadKey as error:
        raise usage.UsageError(f"the public key file {args.public_key} {error}") from None
    try:
        signature = signing.parse_signature(_read(args.signature, what="signature"))
    except signing.SignatureFormatError as error:
        raise usage.UsageError(f"the signature file {args.signature} {error}") from None
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


def run(args: argparse.Namespace, *, out_stream: TextIO, err: TextIO) -> int:
    """Every check that applies to ``args.report``; returns ``verify``'s exit code."""
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
            raise usage.UsageError(
                "nothing to verify: this report has no checksum (kong-2.7); "
                "give --signature and --public-key"
            )
    except usage.UsageError as error:
        print(f"license-report verify: {error}", file=err)
        return verify.EXIT_USAGE
    for passed, message in results:
        print(message, file=out_stream if passed else err)
    if all(passed for passed, _ in results):
        print(f"{args.report}: valid", file=out_stream)
        return verify.EXIT_VALID
    print(f"license-report verify: {args.report} is NOT valid", file=err)
    return verify.EXIT_INVALID
