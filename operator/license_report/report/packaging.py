"""Turn a collection into the files users hand over: report.json, nodes.json, the tar.

Everything is deterministic for a given collection (sorted keys, fixed tar
metadata taken from the collection's timestamp), so the SHA-256 of a report
identifies it and a rerun with the same figures gives the same bytes.
``report.json`` (and the tar's ``response.json``, the same bytes) has the
shape the chosen format says; with a signing key, those bytes are signed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable

from license_report.report import formats, models, signing

#: The member name Kong's docs give the JSON inside the report tar.
TAR_MEMBER = "response.json"
#: Beside it, for a metered fleet: how its figures were obtained (docs/metering.md).
METERING_MEMBER = "metering.json"


@dataclasses.dataclass(frozen=True)
class Package:
    report_json: bytes
    nodes_json: bytes
    tar_name: str
    tar_bytes: bytes
    format: formats.Format = formats.Format.KONG_2_7
    # Of ``report_json`` exactly; ``None`` when no signing key was given.
    signature: signing.Signature | None = None
    # A metered fleet's metering.json (also in the tar); ``None`` when not metered.
    metering_json: bytes | None = None

    @property
    def report_sha256(self) -> str:
        return hashlib.sha256(self.report_json).hexdigest()


def _dump(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _entry(value: object) -> bytes:
    """One entry of a list as `_dump` writes it there: one level deeper (every newline of
    JSON text is structure, strings escape theirs)."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return ("  " + text.replace("\n", "\n  ")).encode()


def _dump_list(entries: Iterable[bytes]) -> bytes:
    """`_dump` of a list, from its entries encoded one at a time (`_entry`).

    json's indented encoder builds the whole text out of small pieces first: for
    10,000 nodes.json entries, ~30 MB of them (and every entry's dict) at once
    beside the 5 MB text, at the operator's peak (issue 13). Same bytes.
    """
    pieces: list[bytes] = []
    for entry in entries:
        pieces += (b",\n", entry)
    if not pieces:
        return _dump([])
    pieces[0] = b"[\n"
    pieces.append(b"\n]\n")
    return b"".join(pieces)


def tar_name(collection: models.Collection) -> str:
    """``report-YYYY_MM_DD_HH_MM_PM.tar``, as Kong's docs name the file (12-hour clock)."""
    return collection.generated_at.strftime("report-%Y_%m_%d_%I_%M_%p.tar")


def _tar(*, members: dict[str, bytes], mtime: float) -> bytes:
    buffer = io.BytesIO()
    # USTAR and fixed owner/mode: no local user names or umask leak into the file.
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for member, content in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            info.mtime = int(mtime)
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def split_nodes(nodes_json: bytes, *, budget: int) -> list[bytes]:
    """``nodes.json`` cut into lists of whole entries, each at most ``budget`` bytes
    (an entry larger than that by itself gets a part of its own).

    Each part is itself a ``nodes.json`` (same formatting); the parts' lists,
    concatenated in order, are the whole list. For fleets whose ``nodes.json``
    does not fit one ConfigMap.
    """
    # A list's bytes: "[\n" and "\n]\n" around its entries' indented bodies, joined by ",\n".
    frame, separator = len(b"[\n\n]\n"), len(b",\n")
    parts: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for entry in map(_entry, json.loads(nodes_json)):
        body = len(entry)
        if chunk and size + separator + body > budget:
            parts.append(_dump_list(chunk))
            chunk = []
        size = frame + body if not chunk else size + separator + body
        chunk.append(entry)
    if chunk or not parts:
        parts.append(_dump_list(chunk))
    return parts


def package(
    collection: models.Collection,
    *,
    format: formats.Format | None = None,
    signing_key: signing.PrivateKey | None = None,
) -> Package:
    """The files of ``collection`` in ``format`` (default: the one it was made for)."""
    format = format or formats.Format(collection.format)
    report_json = _dump(formats.document(collection, format=format))
    nodes_json = _dump_list(_entry(node.as_json()) for node in collection.nodes)
    metering_json = (
        None if collection.metering is None else _dump(collection.metering.model_dump(mode="json"))
    )
    members = {TAR_MEMBER: report_json}
    if metering_json is not None:
        members[METERING_MEMBER] = metering_json
    return Package(
        report_json=report_json,
        nodes_json=nodes_json,
        tar_name=tar_name(collection),
        tar_bytes=_tar(members=members, mtime=collection.generated_at.timestamp()),
        format=format,
        signature=None if signing_key is None else signing.sign(key=signing_key, data=report_json),
        metering_json=metering_json,
    )
