"""What ``license-report collect`` does once its flags are parsed: the one collection.

Loaded by the ``collect`` handler only (``cli/collect.py`` holds the flags and
their help), so that ``license-report --help`` and the other subcommands load
none of the engine, its clients and its models. It needs neither kopf nor the
Kubernetes client, and does not load them.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import urllib.parse
from typing import TextIO

from license_report.api import defaults
from license_report.cli import collect, loop, usage
from license_report.reconcile import collection
from license_report.report import formats, hashing, models, packaging, signing
from license_report.sources import datastore, kong, license


def _pairs(values: list[str], *, option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise usage.UsageError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name] = rest
    return pairs


def _read_secret(path: str, *, what: str) -> str:
    try:
        return pathlib.Path(path).read_text().strip()
    except OSError as error:
        raise usage.UsageError(f"cannot read the {what} file {path}: {error.strerror}") from None


def _targets(args: argparse.Namespace) -> list[models.Target]:
    nodes = _pairs(args.node, option="--node")
    if not nodes:
        raise usage.UsageError("at least one --node NAME=URL is needed")
    cores = _pairs(args.host_cores, option="--host-cores")
    hosts = _pairs(args.host, option="--host")
    for name in [*cores, *hosts]:
        if name not in nodes:
            raise usage.UsageError(f"--host-cores/--host name {name!r} is not a --node")
    targets = []
    for name, url in nodes.items():
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise usage.UsageError(f"--node {name}: URL must start with http:// or https://")
        try:
            count = int(cores[name]) if name in cores else None
        except ValueError:
            raise usage.UsageError(
                f"--host-cores {name}: {cores[name]!r} is not a number"
            ) from None
        if count is not None and count < 1:
            raise usage.UsageError(f"--host-cores {name}: must be at least 1")
        targets.append(models.Target(name=name, url=url, host=hosts.get(name), host_cores=count))
    return targets


def _datastore(args: argparse.Namespace) -> datastore.DatastoreSettings | None:
    if not args.datastore:
        return None
    url = urllib.parse.urlsplit(args.datastore)
    if url.scheme not in ("postgresql", "postgres") or not url.hostname:
        raise usage.UsageError("--datastore must look like postgresql://USER@HOST:PORT/DB")
    if url.password:
        raise usage.UsageError(
            "--datastore must not carry a password: use --datastore-password-file or PGPASSWORD"
        )
    password = (
        _read_secret(args.datastore_password_file, what="datastore password")
        if args.datastore_password_file
        else os.environ.get("PGPASSWORD")
    )
    query = urllib.parse.parse_qs(url.query)
    try:
        port = url.port or defaults.POSTGRES_PORT
    except ValueError:
        raise usage.UsageError("--datastore: the port is not a number") from None
    return datastore.DatastoreSettings(
        host=url.hostname,
        port=port,
        database=url.path.lstrip("/") or defaults.POSTGRES_DATABASE,
        user=urllib.parse.unquote(url.username or defaults.POSTGRES_USER),
        password=password,
        sslmode=query.get("sslmode", [defaults.POSTGRES_SSL_MODE])[0],
    )


def _hash_key(path: str | None, *, err: TextIO) -> bytes:
    if path is not None:
        try:
            return hashing.check_key(pathlib.Path(path).read_bytes())
        except OSError as error:
            raise usage.UsageError(
                f"cannot read the hash key file {path}: {error.strerror}"
            ) from None
        except hashing.HashKeyError as error:
            raise usage.UsageError(f"hash key file {path}: {error}") from None
    config = pathlib.Path(os.environ.get("XDG_CONFIG_HOME") or pathlib.Path.home() / ".config")
    default = config / "license-report" / "hash-key"
    if not default.exists():
        default.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start: the key is never readable by others, even briefly.
        fd = os.open(default, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(hashing.new_key().hex().encode())
        print(
            f"Created a new installation hash key in {default}; keep it to keep "
            "identifiers stable across reports.",
            file=err,
        )
    return hashing.check_key(default.read_bytes())


def _kong_settings(args: argparse.Namespace) -> kong.ClientSettings:
    if (args.months is not None and args.months < 1) or args.concurrency < 1 or args.timeout <= 0:
        raise usage.UsageError("--months and --concurrency must be at least 1, --timeout above 0")
    ca = None
    if args.cacert:
        try:
            ca = pathlib.Path(args.cacert).read_text()
        except OSError as error:
            raise usage.UsageError(
                f"cannot read the CA file {args.cacert}: {error.strerror}"
            ) from None
    return kong.ClientSettings(
        token=_read_secret(args.admin_token_file, what="admin token")
        if args.admin_token_file
        else None,
        timeout=args.timeout,
        max_concurrency=args.concurrency,
        tls=kong.tls_context(ca_pem=ca, insecure=args.insecure) if (ca or args.insecure) else None,
        server_name=args.server_name,
        allow_token_over_http=args.allow_token_over_http,
    )


def _report_format(args: argparse.Namespace) -> str:
    """``auto``, ``kong-2.7`` or ``kong-3.5``; auto is resolved against the fleet."""
    if args.format != formats.AUTO:
        try:
            formats.Format(args.format)
        except ValueError:
            raise usage.UsageError(
                f"--format {args.format!r}: use auto, kong-2.7 or kong-3.5"
            ) from None
    if args.format == formats.Format.KONG_3_5 and args.months not in (
        None,
        formats.KONG_3_5_MONTHS,
    ):
        raise usage.UsageError(
            "--format kong-3.5 reports 12 months, as Kong 3.5 does: drop --months"
        )
    return str(args.format)


def _signing_key(path: str | None) -> signing.PrivateKey | None:
    if path is None:
        return None
    try:
        content = pathlib.Path(path).read_bytes()
    except OSError as error:
        raise usage.UsageError(
            f"cannot read the signing key file {path}: {error.strerror}"
        ) from None
    try:
        return signing.load_private_key(content)
    except signing.BadKey as error:
        raise usage.UsageError(f"the signing key file {path} {error}") from None


def _write_atomically(path: pathlib.Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    partial.replace(path)


def write(out: pathlib.Path, package: packaging.Package) -> list[pathlib.Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "report.json": package.report_json,
        "nodes.json": package.nodes_json,
        package.tar_name: package.tar_bytes,
    }
    if package.signature is not None:
        files["report.json" + signing.SIGNATURE_SUFFIX] = package.signature.signature_text
        files["report.json" + signing.PUBLIC_KEY_SUFFIX] = package.signature.public_key_pem
    for name, content in files.items():
        _write_atomically(out / name, content)
    return [out / name for name in files]


def summary(result: models.Collection) -> str:
    report = result.report
    reached = sum(1 for node in result.gateway_nodes if node.reachable)
    rows = [
        ("outcome", str(result.outcome)),
        ("kong_version", report.kong_version),
        ("db_version", report.db_version),
        ("mode", f"{result.mode}, {result.edition}"),
        ("license_key", report.license_key),
        ("nodes reached", f"{reached} of {len(result.gateway_nodes)}"),
        ("services", str(report.services_count)),
        ("workspaces", str(report.workspaces_count)),
        ("rbac_users", str(report.rbac_users)),
        ("cores", "unknown" if report.system_info.cores is None else str(report.system_info.cores)),
    ]
    if report.consumers_count is not None:
        rows.insert(-2, ("consumers", str(report.consumers_count)))
    counters = report.counters
    rows.append(
        (
            "requests",
            "none kept (see the notes)"
            if counters is None
            else str(sum(counter.request_count for counter in counters)),
        )
    )
    rows += [(f"  {counter.bucket}", str(counter.request_count)) for counter in counters or []]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"FAILED {f.pod}: {f.reason} {f.message}" for f in result.failures]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace, *, out_stream: TextIO, err: TextIO) -> int:
    """Collect, write the files and say what was found; returns ``collect``'s exit code."""
    try:
        if not args.out:
            raise usage.UsageError("--out DIR is required")
        report_format = _report_format(args)
        signing_key = _signing_key(args.signing_key)
        request = collection.Request(
            targets=_targets(args),
            hash_key=_hash_key(args.hash_key_file, err=err),
            admin_api=_kong_settings(args),
            database=_datastore(args),
            license_text=(pathlib.Path(args.license).read_text() if args.license else None),
            format=report_format,
            months=args.months,
            hash_names=args.hash_names,
        )
        kong.check_settings(settings=request.admin_api, targets=request.targets)
    except usage.UsageError as error:
        print(f"license-report collect: {error}", file=err)
        return collect.EXIT_USAGE
    except kong.ConfigError as error:
        print(f"license-report collect: {error}", file=err)
        return collect.EXIT_USAGE
    except OSError as error:
        print(f"license-report collect: cannot read {error.filename}: {error.strerror}", file=err)
        return collect.EXIT_USAGE

    try:
        result = loop.run(collection.collect(request))
    except collection.CollectionFailed as error:
        print(f"license-report collect: failed: {error}", file=err)
        for failure in error.failures:
            print(f"FAILED {failure.pod}: {failure.reason} {failure.message}", file=err)
        return collect.EXIT_FAILED
    except (datastore.DatastoreError, license.LicenseError, kong.ConfigError) as error:
        print(f"license-report collect: failed: {error}", file=err)
        return collect.EXIT_FAILED

    package = packaging.package(result, signing_key=signing_key)
    files = write(pathlib.Path(args.out), package)
    print(summary(result), file=out_stream)
    signed = ", signed (Ed25519)" if package.signature is not None else ""
    print(f"report.json in format {package.format}{signed}", file=out_stream)
    print("wrote " + ", ".join(str(path) for path in files), file=out_stream)
    return (
        collect.EXIT_DEGRADED
        if result.outcome is models.Outcome.DEGRADED
        else collect.EXIT_COMPLETE
    )
