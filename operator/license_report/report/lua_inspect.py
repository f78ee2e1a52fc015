"""What Lua's ``inspect`` 3.1.3 prints for a report table, so our checksum is Kong's own.

Kong 3.5+ computes ``checksum = to_hex(sha1_bin(inspect(report)))`` on the
report table before adding ``checksum`` (``inspect`` 3.1.3, pinned in
``kong-3.5.0-0.rockspec``). To give the same checksum we must give the same
bytes. ``inspect`` has no specification; this port follows its source,
kikito/inspect.lua at tag v3.1.3,
``691eea1fc6346be131e9749150976010f13e84f7:inspect.lua``, with its default
options (``inspect(report)``: no depth limit, ``"\\n"`` and two spaces), for
what a report holds: tables with string keys, lists, strings, numbers and
booleans. A JSON ``null`` has no Lua counterpart: a key set to ``nil`` is
absent from its table, so ``None`` is left out (in a list it leaves a hole,
and what follows the hole is printed as ``[i] = v``, as ``inspect`` does).

The rules, each from that file:

- a table prints ``{``, then its sequence part (``t[1]`` .. ``t[n]`` up to
  the first ``nil``), each item preceded by a space, then every other key,
  each on its own line indented two spaces per level as ``key = value``;
  items are separated by ``,``. The closing ``}`` goes on its own line when
  the table has non-sequence keys, after a space when it has only a
  sequence; an empty table is ``{}`` (``putValue``);
- keys sort numbers first (numerically), then strings by Lua's ``<``, which
  LuaJIT compares byte by byte (``sortKeys``);
- a string key that is an identifier (``^[_%a][_%a%d]*$``, ASCII letters;
  Lua keywords included: 3.1.3 does not bracket them) prints bare, any
  other key as ``[<value>]`` (``isIdentifier``);
- strings: backslashes doubled, control characters (bytes 0-31 and 127)
  escaped, then quoted: single quotes when the text holds ``"`` and no
  ``'``, else double quotes with ``"`` escaped (``escape``, ``smartQuote``);
- numbers print as LuaJIT's ``tostring``: ``%.14g``, but rounding a tie
  (a decimal expansion ending in exactly 5 after the 14th digit) away from
  zero, where C and Python round it to even. LuaJIT formats numbers itself
  (openresty/luajit2 ``15f58c9648ee40a3fb6617e22e2f3fdff80d66b8:
  src/lj_strfmt_num.c``, ``lj_strfmt_num`` and ``nd_add_m10e(nd, ndhi, 5,
  ...)``). Every Lua number is a double, so an integer from 10**14 on prints
  in exponent form (``1e+14``, ``9.007199254741e+15``), and a large one
  loses digits.

Not ported, because a report table has none: metatables, cycles and shared
sub-tables (``<1>``, ``<table 1>``), functions, userdata, ``depth``.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping, Sequence

#: inspect's ``isIdentifier``: ``%a`` and ``%d`` are ASCII in LuaJIT's character table.
_IDENTIFIER = re.compile(r"[_A-Za-z][_A-Za-z0-9]*", re.ASCII)

#: inspect 3.1.3's ``shortControlCharEscapes``: named escapes, ``\\<decimal>`` for the rest.
_SHORT_ESCAPES = {
    **{chr(code): f"\\{code}" for code in range(32)},
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\x7f": "\\127",
}
#: ``longControlCharEscapes``: the unnamed ones before a digit take three digits,
#: so ``"\\1" .. "2"`` cannot read as ``"\\12"``.
_LONG_ESCAPES = {
    chr(code): f"\\{code:03d}" for code in range(32) if chr(code) not in "\a\b\f\n\r\t\v"
}

#: ``%.14g``: LuaJIT's ``tostring`` precision (``STRFMT_G14``).
_PRECISION = 14
_ROUNDING = decimal.Context(prec=64, rounding=decimal.ROUND_HALF_UP)


def number(value: float) -> str:
    """``tostring(value)`` in LuaJIT: ``%.14g``, ties rounded away from zero."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    exact = abs(decimal.Decimal(value))  # a double's decimal expansion is finite
    quantum = decimal.Decimal(1).scaleb(exact.adjusted() - _PRECISION + 1)
    rounded = exact.quantize(quantum, context=_ROUNDING)
    exponent = rounded.adjusted()  # one more than before when 9.99.. rounds to 10
    digits = "".join(map(str, rounded.as_tuple().digits)).rstrip("0")
    if -4 <= exponent < _PRECISION:
        if exponent < 0:
            return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
        whole, fraction = digits[: exponent + 1], digits[exponent + 1 :]
        whole += "0" * (exponent + 1 - len(whole))
        return sign + whole + (f".{fraction}" if fraction else "")
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _escape(text: str) -> str:
    out = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char in _SHORT_ESCAPES:
            following = text[index + 1 : index + 2]
            if following.isascii() and following.isdigit() and char in _LONG_ESCAPES:
                out.append(_LONG_ESCAPES[char])
            else:
                out.append(_SHORT_ESCAPES[char])
        else:
            out.append(char)
    return "".join(out)


def string(text: str) -> str:
    """A Lua string as inspect prints it (``smartQuote(escape(text))``)."""
    escaped = _escape(text)
    if '"' in escaped and "'" not in escaped:
        return f"'{escaped}'"
    return '"' + escaped.replace('"', '\\"') + '"'


def _key_order(key: int | str) -> tuple[int, float, bytes]:
    # sortKeys: numbers (type order 1) before strings (3); strings by bytes, as LuaJIT's <.
    if isinstance(key, str):
        return (3, 0.0, key.encode("utf-8", "surrogatepass"))
    return (1, float(key), b"")


def _table(
    value: Sequence[object] | Mapping[object, object], *, level: int, out: list[str]
) -> None:
    entries: dict[int | str, object] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("a report's tables have string keys only")
            if item is not None:
                entries[key] = item
    else:
        entries = {index: item for index, item in enumerate(value, 1) if item is not None}
    length = 0  # inspect's sequence: 1, 2, ... up to the first nil
    while length + 1 in entries:
        length += 1
    keys = sorted(
        (key for key in entries if not (isinstance(key, int) and 1 <= key <= length)),
        key=_key_order,
    )
    inner = "\n" + "  " * (level + 1)
    out.append("{")
    for index in range(1, length + 1):
        out.append(", " if index > 1 else " ")
        _value(entries[index], level=level + 1, out=out)
    for position, key in enumerate(keys):
        out.append("," + inner if length or position else inner)
        if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
            out.append(key)
        else:
            out.append("[" + (string(key) if isinstance(key, str) else number(key)) + "]")
        out.append(" = ")
        _value(entries[key], level=level + 1, out=out)
    if keys:
        out.append("\n" + "  " * level)
    elif length:
        out.append(" ")
    out.append("}")


def _value(value: object, *, level: int, out: list[str]) -> None:
    if value is None:
        out.append("nil")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        # A Lua number is a double: a Python int beyond 2**53 loses digits, as in Kong.
        try:
            out.append(number(float(value)))
        except OverflowError:
            out.append("-inf" if value < 0 else "inf")
    elif isinstance(value, str):
        out.append(string(value))
    elif isinstance(value, Mapping | list | tuple):
        _table(value, level=level, out=out)
    else:
        raise TypeError(f"a report holds no {type(value).__name__} values")


def inspect(value: object) -> str:
    """``inspect(value)`` as inspect.lua 3.1.3 prints the Lua value built from ``value``.

    ``value`` is made of what JSON decodes to; anything else raises ``TypeError``.
    """
    out: list[str] = []
    _value(value, level=0, out=out)
    return "".join(out)
