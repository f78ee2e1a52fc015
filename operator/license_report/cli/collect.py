"""``license-report collect``: one report from Kong nodes given on the command line.

For Kong fleets outside Kubernetes and for scripts. Every option can also
come from a ``LICENSE_REPORT_*`` environment variable; secrets come from
files (or ``PGPASSWORD``), never from the command line, where ``ps`` shows them.

``--format kong-3.5`` writes report.json in Kong 3.5's shape (with its
checksum); ``--signing-key`` signs report.json (``report.json.sig``, and the
public key as ``report.json.pub``): ``license-report verify`` checks both.

Exit codes: 0 complete, 3 degraded (some nodes failed, each named), 1 failed,
2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from license_report.api import defaults
from license_report.cli import usage

EXIT_COMPLETE, EXIT_FAILED, EXIT_USAGE, EXIT_DEGRADED = 0, 1, usage.EXIT_USAGE, 3
ENV_PREFIX = "LICENSE_REPORT_"
#: ``report.formats.Format``'s values, written here so that ``--help`` need not load the
#: report models (a test keeps the two the same).
FORMATS = ("kong-2.7", "kong-3.5")
#: The default format: the fleet's own Kong's shape.
AUTO = "auto"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_list(name: str) -> list[str]:
    value = _env(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "collect",
        help="collect one report from Kong nodes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--node",
        action="append",
        default=_env_list("NODES"),
        metavar="NAME=URL",
        help="a gateway node's Admin API (repeat; env LICENSE_REPORT_NODES, comma-separated)",
    )
    cmd.add_argument(
        "--host-cores",
        action="append",
        default=_env_list("HOST_CORES"),
        metavar="NAME=N",
        help="cores of the machine node NAME runs on (else the node's own report says)",
    )
    cmd.add_argument(
        "--host",
        action="append",
        default=_env_list("HOSTS"),
        metavar="NAME=HOST",
        help="machine node NAME runs on, so nodes sharing one are counted once",
    )
    cmd.add_argument(
        "--datastore",
        default=_env("DATASTORE"),
        metavar="postgresql://USER@HOST:PORT/DB",
        help="Kong's PostgreSQL datastore (DB mode); absent: DB-less. ?sslmode= is honoured",
    )
    cmd.add_argument(
        "--datastore-password-file",
        default=_env("DATASTORE_PASSWORD_FILE"),
        metavar="FILE",
        help="file holding the datastore password (else $PGPASSWORD)",
    )
    cmd.add_argument(
        "--license", default=_env("LICENSE"), metavar="FILE", help="Kong license JSON file"
    )
    cmd.add_argument(
        "--admin-token-file",
        default=_env("ADMIN_TOKEN_FILE"),
        metavar="FILE",
        help="file holding the Kong-Admin-Token",
    )
    tls = cmd.add_mutually_exclusive_group()
    tls.add_argument(
        "--cacert", default=_env("CACERT"), metavar="FILE", help="CA bundle for https nodes"
    )
    tls.add_argument(
        "--insecure",
        action="store_true",
        default=_env("INSECURE") == "true",
        help="do not verify https nodes' certificates",
    )
    cmd.add_argument("--server-name", default=_env("SERVER_NAME"), help="TLS name to verify")
    cmd.add_argument(
        "--allow-token-over-http",
        action="store_true",
        default=_env("ALLOW_TOKEN_OVER_HTTP") == "true",
        help="send the admin token to plain-http nodes",
    )
    months = _env("MONTHS")
    cmd.add_argument(
        "--months",
        type=int,
        default=int(months) if months else None,
        help="months of counters in a kong-2.7 report, the current one included "
        f"(default {defaults.REPORT_MONTHS}, as Kong 2.7-3.4; kong-3.5 reports 12)",
    )
    cmd.add_argument(
        "--format",
        choices=(AUTO, *FORMATS),
        default=_env("FORMAT", defaults.REPORT_FORMAT),
        help="report.json's shape: the fleet's own Kong's (auto, the default: kong-3.5 for "
        "fleets on 3.5+, else kong-2.7), Kong 2.7-3.4's or Kong 3.5+'s, with its checksum",
    )
    cmd.add_argument(
        "--hash-names",
        action=argparse.BooleanOptionalAction,
        default=_env("HASH_NAMES", "true" if defaults.HASH_NAMES else "false") == "true",
        help="write pod and host names into nodes.json as keyed hashes (default: on)",
    )
    cmd.add_argument(
        "--signing-key",
        default=_env("SIGNING_KEY_FILE"),
        metavar="FILE",
        help="Ed25519 private key (PEM PKCS#8) to sign report.json with "
        "(env LICENSE_REPORT_SIGNING_KEY_FILE)",
    )
    cmd.add_argument(
        "--timeout",
        type=float,
        default=float(_env("TIMEOUT") or defaults.ADMIN_API_TIMEOUT_SECONDS),
        help=f"seconds per Admin API request (default {defaults.ADMIN_API_TIMEOUT_SECONDS:g})",
    )
    cmd.add_argument(
        "--concurrency",
        type=int,
        default=int(_env("CONCURRENCY") or defaults.MAX_CONCURRENCY),
        help=f"nodes asked at once (default {defaults.MAX_CONCURRENCY})",
    )
    cmd.add_argument(
        "--hash-key-file",
        default=_env("HASH_KEY_FILE"),
        metavar="FILE",
        help="installation key for hashing pod and host names in nodes.json "
        "(default ~/.config/license-report/hash-key, created once)",
    )
    cmd.add_argument(
        "--out", default=_env("OUT"), metavar="DIR", help="directory to write the report into"
    )
    cmd.set_defaults(handler=run)


def run(
    args: argparse.Namespace, *, out_stream: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The handler. The engine, its clients and models are imported only now: the
    module itself is loaded by every ``license-report`` invocation, ``--help`` too."""
    from license_report.cli import collecting

    return collecting.run(args, out_stream=out_stream or sys.stdout, err=err or sys.stderr)
