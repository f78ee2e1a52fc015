"""Lua ``inspect`` 3.1.3 (kikito/inspect.lua v3.1.3, 691eea1fc6) for the values a report holds.

Kong 3.5+ signs its report with ``sha1(inspect(report))`` (a5675f3bde:
kong/enterprise_edition/counters/sales/init.lua:443-444; pinned at
kong-3.5.0-0.rockspec:15). This is the simulator's own port, written from
inspect.lua v3.1.3 L63-296 and kong-research.md §11: dicts are Lua hash tables
(keys sorted: numbers, booleans, strings; byte-wise), lists are sequences, a
``None`` value is a nil and so absent, numbers print as LuaJIT's ``%.14g``.
No metatables and no shared tables: a report has neither.

TODO(i12-checksum): use the product's port, operator/license_report/report/lua_inspect.py
(branch i12-checksum, not merged when this was written), once it lands, and keep
this one only as the independent check the simulator's tests compare it with.
"""

from __future__ import annotations

import decimal
import hashlib
import math
import re
from collections.abc import Mapping, Sequence

_IDENTIFIER = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")
_SHORT = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
          "\v": "\\v", "\x7f": "\\127"}  # fmt: skip
_TYPE_ORDER = {"number": 1, "boolean": 2, "string": 3, "table": 4}


def _is_control(char: str) -> bool:
    return ord(char) < 32 or ord(char) == 127


def _escape(text: str) -> str:
    """``escape``: backslashes; a control char before a digit as ``\\ddd``; others short."""
    text = text.replace("\\", "\\\\")
    out = []
    for i, char in enumerate(text):
        if _is_control(char):
            before_digit = i + 1 < len(text) and text[i + 1].isdigit() and ord(char) != 127
            if before_digit:
                out.append(f"\\{ord(char):03d}")
            else:
                out.append(_SHORT.get(char, f"\\{ord(char)}"))
        else:
            out.append(char)
    return "".join(out)


def _quote(text: str) -> str:
    """``smartQuote``: single quotes when the text has ``"`` and no ``'``."""
    if '"' in text and "'" not in text:
        return "'" + text + "'"
    return '"' + text.replace('"', '\\"') + '"'


def number(value: float) -> str:
    """``tostring`` of a LuaJIT number: ``%.14g``, ``inf``, ``-inf``.

    LuaJIT formats with its own code (lj_strfmt_num.c), which rounds an exact
    decimal tie up where C's printf rounds it to even: 123456789012345 prints
    ``1.2345678901235e+14`` (kong-research.md §11), not printf's ``...234e+14``.
    So the exact binary value is rounded half-up to 14 digits, then laid out as ``%g``.
    """
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    exact = decimal.Decimal(value)
    if exact == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    exponent = exact.adjusted()
    rounded = exact.quantize(decimal.Decimal(1).scaleb(exponent - 13), decimal.ROUND_HALF_UP)
    if rounded.adjusted() != exponent:  # 9.99... rounded up to 10.0...
        exponent = rounded.adjusted()
    if -4 <= exponent < 14:
        text = f"{rounded:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    digits = rounded.scaleb(-exponent).normalize()
    mantissa = f"{digits:f}"
    sign = "+" if exponent >= 0 else "-"
    return f"{mantissa}e{sign}{abs(exponent):02d}"


def _kind(key: object) -> str:
    if isinstance(key, bool):
        return "boolean"
    if isinstance(key, int | float):
        return "number"
    return "string"


def _sort_key(key: object) -> tuple[int, object]:
    kind = _kind(key)
    if kind == "string":
        return _TYPE_ORDER[kind], str(key).encode()
    return _TYPE_ORDER[kind], key


def _put(value: object, level: int, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_quote(_escape(value)))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(number(value))
    elif isinstance(value, Mapping):
        _table([], {k: v for k, v in value.items() if v is not None}, level, out)
    elif isinstance(value, Sequence):
        items = list(value)
        if None in items:  # a nil ends the sequence; later items become hash keys
            cut = items.index(None)
            rest: dict[object, object] = {
                i + 1: v for i, v in enumerate(items) if i > cut and v is not None
            }
            _table(items[:cut], rest, level, out)
        else:
            _table(items, {}, level, out)
    else:
        raise TypeError(f"no Lua value for {type(value).__name__}")


def _table(
    sequence: list[object], hashed: dict[object, object], level: int, out: list[str]
) -> None:
    keys = sorted(hashed, key=_sort_key)
    out.append("{")
    inner = level + 1
    for i, item in enumerate(sequence):
        if i:
            out.append(",")
        out.append(" ")
        _put(item, inner, out)
    for i, key in enumerate(keys):
        if i or sequence:
            out.append(",")
        out.append("\n" + "  " * inner)
        if isinstance(key, str) and _IDENTIFIER.match(key):
            out.append(key)
        else:
            out.append("[")
            _put(key, inner, out)
            out.append("]")
        out.append(" = ")
        _put(hashed[key], inner, out)
    if keys:
        out.append("\n" + "  " * level)
    elif sequence:
        out.append(" ")
    out.append("}")


def inspect(value: object) -> str:
    """``inspect(value)`` with default options; no trailing newline."""
    out: list[str] = []
    _put(value, 0, out)
    return "".join(out)


def checksum(report: Mapping[str, object]) -> str:
    """``to_hex(sha1_bin(inspect(report)))``: 40 lowercase hex characters."""
    digest = hashlib.sha1(inspect(report).encode(), usedforsecurity=False)
    return digest.hexdigest()
