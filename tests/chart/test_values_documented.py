"""The chart's values are documented from one source: the ``# --`` comments in values.yaml.

``scripts/chart_docs.py`` (``make chart-docs``) writes README.md's values table and
values.schema.json's descriptions from them. These tests run it as ``make chart-docs``
does, on the committed chart (nothing may be stale) and on copies broken on purpose
(an undocumented value, a hand-edited table, a value the schema does not know).
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "license-report-operator"
SCRIPT = ROOT / "scripts" / "chart_docs.py"
DOC_FILES = ("values.yaml", "README.md", "values.schema.json")


def _chart_docs(chart: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--chart", str(chart), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def chart_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """The files chart-docs reads and writes, copied so that a test may break them."""
    for name in DOC_FILES:
        shutil.copy(CHART / name, tmp_path / name)
    return tmp_path


def _edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_the_committed_readme_and_schema_are_what_values_yaml_writes() -> None:
    result = _chart_docs(CHART, "--check")
    assert result.returncode == 0, result.stderr


def _keys(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key path of values.yaml as the schema structures it: a key whose schema node
    lists properties is a section, anything else (a Kubernetes type) one value."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema["properties"][key]
        if isinstance(value, dict) and "properties" in node:
            yield from _keys(value, node, f"{path}.")
        else:
            yield path


def _readme_table_keys(readme: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", readme.split("## Values", 1)[1], re.MULTILINE)


def test_the_values_table_lists_every_value_of_values_yaml_once() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    keys = list(_keys(values, schema))
    assert len(keys) > 30
    assert _readme_table_keys((CHART / "README.md").read_text()) == keys


def _schema_paths(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, child in node.get("properties", {}).items():
        yield f"{prefix}{key}"
        yield from _schema_paths(child, f"{prefix}{key}.")


def test_no_description_in_the_schema_is_left_hand_written() -> None:
    """chart-docs writes the description of every key values.yaml has: the schema has no
    chart key beyond them, so none keeps a description of its own."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    rows = set(_keys(values, schema))
    sections = {path.rsplit(".", 1)[0] for path in rows if "." in path}
    sections |= {path.rsplit(".", 1)[0] for path in sections if "." in path}
    assert set(_schema_paths(schema)) == rows | sections


@pytest.mark.parametrize(
    ("comment", "key"),
    [
        ("# -- Log format: `plain` or `json` (`--log-format`).", "log.format"),
        (
            "# -- How long (seconds) transient problems (a missing Secret, an unreachable",
            "retrySeconds",
        ),
        (
            "# -- Extra labels on the ServiceMonitor, for the Prometheus",
            "metrics.serviceMonitor.labels",
        ),
        (
            "# -- Container resources. A report run is mostly waiting on the network; the",
            "resources",
        ),
        ("# -- The operator image.", "image"),
    ],
)
def test_a_value_without_a_description_is_refused(
    chart_copy: pathlib.Path, comment: str, key: str
) -> None:
    # Without the `--` the comment is an ordinary one, as a forgotten description would be.
    _edit(chart_copy / "values.yaml", comment, comment.replace("# -- ", "# ", 1))
    result = _chart_docs(chart_copy, "--check")
    assert result.returncode == 2
    assert f"{key}: no `# --` comment above it" in result.stderr


def test_a_changed_description_makes_both_files_stale_until_chart_docs_runs(
    chart_copy: pathlib.Path,
) -> None:
    _edit(
        chart_copy / "values.yaml",
        "# -- Seconds between probes.\n  periodSeconds: 20",
        "# -- How often kubelet probes | liveness.\n  periodSeconds: 20",
    )
    stale = _chart_docs(chart_copy, "--check")
    assert stale.returncode == 1
    assert "README.md (from values.yaml)" in stale.stderr
    assert "values.schema.json (from values.yaml)" in stale.stderr

    assert _chart_docs(chart_copy).returncode == 0
    assert _chart_docs(chart_copy, "--check").returncode == 0
    readme = (chart_copy / "README.md").read_text()
    assert (
        "| `livenessProbe.periodSeconds` | `20` | How often kubelet probes \\| liveness. |\n"
        in readme
    )
    schema = json.loads((chart_copy / "values.schema.json").read_text())
    liveness = schema["properties"]["livenessProbe"]["properties"]
    assert liveness["periodSeconds"]["description"] == "How often kubelet probes | liveness."
    assert liveness["periodSeconds"]["minimum"] == 1
    # Everything outside the table is the README as it was.
    committed = (CHART / "README.md").read_text()
    assert (
        readme.split("<!-- values-table: begin")[0]
        == committed.split("<!-- values-table: begin")[0]
    )
    assert (
        readme.split("<!-- values-table: end -->")[1]
        == committed.split("<!-- values-table: end -->")[1]
    )


def test_a_hand_edited_table_is_stale(chart_copy: pathlib.Path) -> None:
    _edit(chart_copy / "README.md", "| `replicaCount` | `1` |", "| `replicaCount` | `2` |")
    result = _chart_docs(chart_copy, "--check")
    assert result.returncode == 1
    assert "-| `replicaCount` | `2` |" in result.stderr


def test_a_value_the_schema_does_not_know_is_refused(chart_copy: pathlib.Path) -> None:
    _edit(
        chart_copy / "values.yaml",
        "retrySeconds: 300\n",
        "retrySeconds: 300\n# -- New.\nextra: 1\n",
    )
    result = _chart_docs(chart_copy, "--check")
    assert result.returncode == 2
    assert "extra: not in values.schema.json" in result.stderr


def test_a_kubernetes_typed_value_cannot_turn_into_a_section(chart_copy: pathlib.Path) -> None:
    """A described key inside ``resources`` would list its keys one by one, while the
    schema (a Kubernetes ResourceRequirements) says it is one value."""
    _edit(chart_copy / "values.yaml", "  requests:\n", "  # -- Requests.\n  requests:\n")
    result = _chart_docs(chart_copy, "--check")
    assert result.returncode == 2
    assert "resources: values.yaml documents it as a section" in result.stderr


def test_yaml_the_line_reader_does_not_follow_is_refused(chart_copy: pathlib.Path) -> None:
    """A quoted key is loaded by YAML but not seen by the line reader: it fails loudly
    instead of going undocumented."""
    _edit(chart_copy / "values.yaml", "\nretrySeconds: 300", '\n"retrySeconds": 300')
    result = _chart_docs(chart_copy, "--check")
    assert result.returncode == 2
    assert "not plain block mappings" in result.stderr
    assert "retrySeconds" in result.stderr
