"""The chart README lists every value of values.yaml, and no value that does not exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.chart import conftest as chart

README = chart.CHART / "README.md"


def _keys(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key path of values.yaml; Kubernetes-typed values (no chart properties in the
    schema) count as one key."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema["properties"][key]
        if isinstance(value, dict) and "properties" in node:
            yield from _keys(value, node, f"{path}.")
        else:
            yield path


def _values_keys() -> set[str]:
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    schema = json.loads((chart.CHART / "values.schema.json").read_text())
    return set(_keys(values, schema))


def _readme_table_keys() -> set[str]:
    text = README.read_text().split("## Values", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))


def test_the_readme_values_table_is_exactly_values_yaml() -> None:
    keys = _values_keys()
    assert len(keys) > 30
    assert _readme_table_keys() == keys
