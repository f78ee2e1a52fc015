"""Label and field selectors, parsed and matched as the API server does (apimachinery's grammar).

Labels: requirements joined by commas (AND): ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist), and
``a>1``, ``a<1``. ``!=`` and ``notin`` also match objects without the label,
as in Kubernetes. Fields: ``path=value``, ``path==value``, ``path!=value`` on
the fields a resource declares selectable. Anything else is a `SelectorError`,
which the server answers with 400 Bad Request.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_KEY = rf"(?:{_PREFIX}/)?{_NAME}"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")

_EXISTS = re.compile(rf"^\s*(?P<key>{_KEY})\s*$")
_NOT_EXISTS = re.compile(rf"^\s*!\s*(?P<key>{_KEY})\s*$")
_EQUALITY = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[^\s=!]*)\s*$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_COMPARE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>[<>])\s*(?P<value>-?[0-9]+)\s*$")
_FIELD = re.compile(r"^\s*(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")


class SelectorError(ValueError):
    """A selector the API server would refuse; the message says what is wrong."""


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case ">" | "<":
                try:
                    number = int(str(value))
                except ValueError:
                    return False
                (bound,) = (int(v) for v in self.values)
                return present and (number > bound if self.op == ">" else number < bound)
        raise AssertionError(self.op)  # pragma: no cover


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b`` is two requirements)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unexpected ')' in selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError(f"unclosed '(' in selector {text!r}")
    parts.append("".join(current))
    return parts


def _check_value(value: str, text: str) -> str:
    if not _VALUE_RE.match(value):
        raise SelectorError(
            f"unable to parse requirement: values[0][{value}]: Invalid value: {value!r}:"
            f" a valid label must be an empty string or consist of alphanumeric characters,"
            f" '-', '_' or '.' (in selector {text!r})"
        )
    return value


def parse_labels(text: str | None) -> tuple[Requirement, ...]:
    """Parse a ``labelSelector``; empty or None selects everything."""
    if text is None or not text.strip():
        return ()
    requirements = []
    for part in _split(text):
        if not part.strip():
            raise SelectorError(f"found '', expected: identifier (in selector {text!r})")
        if match := _SET.match(part):
            values = [v.strip() for v in match["values"].split(",")]
            if not any(values):
                raise SelectorError(
                    f"for 'in', 'notin' operators, values set can't be empty (in {text!r})"
                )
            values = [_check_value(v, text) for v in values]
            requirements.append(Requirement(match["key"], match["op"], frozenset(values)))
        elif match := _EQUALITY.match(part):
            op = "!=" if match["op"] == "!=" else "="
            value = _check_value(match["value"], text)
            requirements.append(Requirement(match["key"], op, frozenset({value})))
        elif match := _COMPARE.match(part):
            requirements.append(Requirement(match["key"], match["op"], frozenset({match["value"]})))
        elif match := _NOT_EXISTS.match(part):
            requirements.append(Requirement(match["key"], "!"))
        elif match := _EXISTS.match(part):
            requirements.append(Requirement(match["key"], "exists"))
        else:
            raise SelectorError(f"unable to parse requirement {part.strip()!r} in {text!r}")
    return tuple(requirements)


def labels_match(requirements: Iterable[Requirement], obj: Mapping[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(requirement.matches(labels) for requirement in requirements)


@dataclasses.dataclass(frozen=True)
class FieldRequirement:
    path: str
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        found: Any = obj
        for step in self.path.split("."):
            found = found.get(step) if isinstance(found, Mapping) else None
        # The server compares the field's string form; an absent field is "".
        if isinstance(found, bool):
            actual = "true" if found else "false"
        else:
            actual = "" if found is None else str(found)
        return (actual == self.value) is self.equal


def parse_fields(text: str | None, *, allowed: Iterable[str]) -> tuple[FieldRequirement, ...]:
    """Parse a ``fieldSelector`` against the fields a resource allows."""
    if text is None or not text.strip():
        return ()
    allowed = set(allowed) | {"metadata.name", "metadata.namespace"}
    requirements = []
    for part in text.split(","):
        match = _FIELD.match(part)
        if match is None:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {part!r}")
        if match["path"] not in allowed:
            raise SelectorError(f"field label not supported: {match['path']}")
        requirements.append(FieldRequirement(match["path"], match["op"] != "!=", match["value"]))
    return tuple(requirements)


def fields_match(requirements: Iterable[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all(requirement.matches(obj) for requirement in requirements)


Predicate = Callable[[Mapping[str, Any]], bool]


def predicate(
    *, labels: str | None, fields: str | None, allowed_fields: Iterable[str]
) -> Predicate:
    """One test for both selectors; raises `SelectorError` at parse time, not per object."""
    label_requirements = parse_labels(labels)
    field_requirements = parse_fields(fields, allowed=allowed_fields)

    def test(obj: Mapping[str, Any]) -> bool:
        return labels_match(label_requirements, obj) and fields_match(field_requirements, obj)

    return test
