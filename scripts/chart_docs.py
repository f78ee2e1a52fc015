#!/usr/bin/env python3
"""Write the chart's values documentation from one source: the comments in values.yaml.

values.yaml is commented in the helm-docs convention, so the file reads like other charts':

    # -- What the value does; further comment lines
    # continue the description.
    # @default -- prose shown instead of the value itself (for long maps)
    key: value

From those comments this writes the values table of the chart's README.md (between the
``values-table`` markers; the rest of the README is left alone) and the ``description`` of
every chart key in values.schema.json (the Kubernetes ``definitions`` and the validation
keywords are left alone). ``--check`` writes nothing and fails when either file differs
from what it would write; a chart test runs it.

Why not an existing generator: helm-docs and Bitnami's readme-generator are a Go binary and
an npm package, outside the Python toolchain this repository installs; frigate (PyPI) takes
only the first line of a comment on the key's own line, templates the whole README and
never fails on an undocumented value.

Rules (every problem is reported, then the script exits 2):
- Every key carries a ``# --`` comment, directly above it (no blank line between).
- A map in which some key carries a ``# --`` comment is a section: its keys are rows of the
  table, its own comment is its description in the schema. Any other map (a Kubernetes
  type such as ``resources``, or an empty one) is one row whose default is the whole map.
  The schema must agree: a section has ``properties`` there, a row has none.
- Only block mappings with plain keys are read line by line; the keys found must be the
  keys YAML loads, so a construct this reader misses fails loudly instead of going
  undocumented.

Usage: scripts/chart_docs.py [--chart DIR] [--check]   (``make chart-docs``)
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import pathlib
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

CHART = pathlib.Path(__file__).resolve().parents[1] / "charts" / "license-report-operator"
BEGIN = "<!-- values-table: begin. `make chart-docs` writes this table from values.yaml -->"
END = "<!-- values-table: end -->"

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_-]*):(?:\s|$)")
_COMMENT_LINE = re.compile(r"^\s*#(?: (?P<text>.*)|)$")
_DESCRIPTION = "-- "
_DEFAULT = "@default -- "


class ChartDocsError(Exception):
    """values.yaml (or the schema beside it) cannot be documented as it is; the message
    lists every problem found."""


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of values.yaml as written: its dotted path and its ``# --`` comment."""

    path: tuple[str, ...]
    description: str | None
    default_text: str | None


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the values table."""

    path: tuple[str, ...]
    description: str
    default: str


def _comment(block: list[str]) -> tuple[str | None, str | None]:
    """The description and ``@default`` prose of the comment block above a key: from its
    last ``# --`` line on; the lines before it are ordinary comments."""
    starts = [i for i, text in enumerate(block) if text.startswith(_DESCRIPTION)]
    if not starts:
        return None, None
    words: list[str] = []
    default_text: str | None = None
    for text in block[starts[-1] :]:
        if text.startswith(_DEFAULT):
            default_text = text.removeprefix(_DEFAULT).strip()
        else:
            words.append(text.removeprefix(_DESCRIPTION).strip())
    return " ".join(word for word in words if word) or None, default_text


def read_keys(text: str) -> list[Key]:
    """Every key of a values.yaml with the comment directly above it, in file order."""
    keys: list[Key] = []
    stack: list[tuple[int, tuple[str, ...]]] = []
    block: list[str] = []
    for line in text.splitlines():
        comment = _COMMENT_LINE.match(line)
        if comment:
            block.append(comment["text"] or "")
            continue
        match = _KEY_LINE.match(line)
        if match:
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = (*(stack[-1][1] if stack else ()), match["key"])
            stack.append((indent, path))
            description, default_text = _comment(block)
            keys.append(Key(path=path, description=description, default_text=default_text))
        block = []
    return keys


def _loaded_paths(
    values: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    for key, value in values.items():
        yield (*prefix, key)
        if isinstance(value, Mapping):
            yield from _loaded_paths(value, (*prefix, key))


def _lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for key in path:
        node = node[key]
    return node


def format_default(value: Any) -> str:
    """The value as the table shows it: a string bare when YAML would read it back as the
    same string (``IfNotPresent``), quoted otherwise (``""``, ``"true"``); anything else
    as compact JSON."""
    if isinstance(value, str) and value and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, separators=(", ", ": "))


def _schema_node(schema: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = schema
    for key in path:
        node = node.get("properties", {}).get(key)
        if node is None:
            return None
    return node


@dataclasses.dataclass(frozen=True)
class Docs:
    """What values.yaml documents: the table's rows and each key's description."""

    rows: list[Row]
    descriptions: dict[tuple[str, ...], str]


def document(values_text: str, schema: Mapping[str, Any]) -> Docs:
    """Read values.yaml's comments into rows and descriptions, or raise ChartDocsError
    listing every key without a ``# --`` comment and every disagreement with the schema."""
    values = yaml.safe_load(values_text)
    keys = read_keys(values_text)
    problems: list[str] = []
    written = [key.path for key in keys]
    loaded = list(_loaded_paths(values))
    if sorted(written) != sorted(loaded):
        missed = sorted(set(loaded) - set(written))
        extra = sorted(set(written) - set(loaded))
        raise ChartDocsError(
            "values.yaml is not plain block mappings this reader follows: "
            f"keys YAML loads but the lines do not show: {['.'.join(p) for p in missed]}; "
            f"keys read from lines that YAML does not load: {['.'.join(p) for p in extra]}"
        )
    by_path = {key.path: key for key in keys}

    def is_section(path: tuple[str, ...]) -> bool:
        value = _lookup(values, path)
        return isinstance(value, Mapping) and any(
            by_path[(*path, child)].description for child in value
        )

    rows: list[Row] = []
    descriptions: dict[tuple[str, ...], str] = {}

    def walk(prefix: tuple[str, ...]) -> None:
        node = _lookup(values, prefix) if prefix else values
        for child in node:
            path = (*prefix, child)
            key = by_path[path]
            name = ".".join(path)
            section = is_section(path)
            schema_node = _schema_node(schema, path)
            if key.description is None:
                problems.append(f"{name}: no `# --` comment above it")
            else:
                descriptions[path] = key.description
            if schema_node is None:
                problems.append(f"{name}: not in values.schema.json")
            elif section != ("properties" in schema_node):
                problems.append(
                    f"{name}: values.yaml documents it as "
                    f"{'a section' if section else 'one value'}, the schema "
                    f"{'does not list' if section else 'lists'} its properties"
                )
            if section:
                if key.default_text is not None:
                    problems.append(f"{name}: a section has no `@default`")
                walk(path)
            elif key.description is not None:
                default = key.default_text or f"`{format_default(_lookup(values, path))}`"
                rows.append(Row(path=path, description=key.description, default=default))

    walk(())
    if problems:
        raise ChartDocsError("values.yaml:\n" + "\n".join(f"  {p}" for p in problems))
    return Docs(rows=rows, descriptions=descriptions)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(rows: list[Row]) -> str:
    """The README's values table, markers included."""
    lines = [BEGIN, "| key | default | description |", "| --- | --- | --- |"]
    lines += [
        f"| `{'.'.join(row.path)}` | {_cell(row.default)} | {_cell(row.description)} |"
        for row in rows
    ]
    return "\n".join([*lines, END])


def readme_with_table(readme: str, rows: list[Row]) -> str:
    """The README with the text between the markers replaced by the table."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ChartDocsError(f"README.md needs the markers once each:\n  {BEGIN}\n  {END}")
    before, rest = readme.split(BEGIN)
    after = rest.split(END)[1]
    return before + table(rows) + after


def schema_with_descriptions(
    schema: dict[str, Any], descriptions: dict[tuple[str, ...], str]
) -> str:
    """values.schema.json with each chart key's description from values.yaml, in the
    layout the schema test writes (``json.dumps(indent=2)``)."""
    for path, description in descriptions.items():
        _schema_node(schema, path)["description"] = description
    return json.dumps(schema, indent=2) + "\n"


def generate(chart: pathlib.Path) -> dict[pathlib.Path, str]:
    """The README and schema texts values.yaml's comments make, by file."""
    readme_file = chart / "README.md"
    schema_file = chart / "values.schema.json"
    schema = json.loads(schema_file.read_text())
    docs = document((chart / "values.yaml").read_text(), schema)
    return {
        readme_file: readme_with_table(readme_file.read_text(), docs.rows),
        schema_file: schema_with_descriptions(schema, docs.descriptions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", type=pathlib.Path, default=CHART)
    parser.add_argument("--check", action="store_true", help="write nothing; fail when stale")
    args = parser.parse_args(argv)
    try:
        texts = generate(args.chart)
    except ChartDocsError as error:
        print(f"chart-docs: {error}", file=sys.stderr)
        return 2
    stale = False
    for path, text in texts.items():
        current = path.read_text()
        if current == text:
            continue
        if args.check:
            stale = True
            sys.stderr.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{path} (committed)",
                    tofile=f"{path} (from values.yaml)",
                )
            )
        else:
            path.write_text(text)
            print(f"chart-docs: wrote {path}")
    if stale:
        print("chart-docs: stale; run `make chart-docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
