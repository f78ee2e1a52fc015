"""Builders for aggregation inputs, shaped like what real Kong nodes answer, version by version.

The bodies follow docs/kong-research (Kong's own source): ``GET /`` has
``edition`` only from 3.6 and a ``license`` object (the payload without its
key) on a licensed Enterprise node; 2.x Enterprise versions end in
``-enterprise-edition``; ``/license/report`` has no ``counters`` key with
Kong's ``off`` strategy (DB-less, hybrid without telemetry on 3.6+), the 3.5
shape from 3.5, ``consumers_count`` from 3.1; Kong OSS answers 404.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping

from license_report.report import admin_api, aggregation, models

NOW = datetime.datetime(2026, 11, 27, 15, 4, tzinfo=datetime.UTC)
KEY = b"k" * 32

ObservationFactory = Callable[..., aggregation.NodeObservation]


def _release(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    assert match is not None, version
    return int(match[1]), int(match[2])


def kong_version(version: str, *, enterprise: bool) -> str:
    """``kong.version`` as that Kong shows it: 2.x Enterprise with the suffix, 3.x without."""
    bare = version.removesuffix("-enterprise-edition")
    return bare + "-enterprise-edition" if enterprise and _release(bare) < (3, 0) else bare


def info_body(
    name: str,
    *,
    version: str,
    enterprise: bool,
    database: str,
    role: str = "traditional",
    telemetry: str = "127.0.0.1:8006",
    license_key: str | None = None,
) -> dict[str, object]:
    """``GET /``."""
    body: dict[str, object] = {
        "tagline": "Welcome to kong",
        "version": kong_version(version, enterprise=enterprise),
        "hostname": f"{name}-hostname",
        "node_id": f"00000000-0000-4000-8000-{sum(map(ord, name)):012d}",
        "configuration": {
            "database": database,
            "role": role,
            "cluster_telemetry_endpoint": telemetry,
        },
    }
    if _release(version) >= (3, 6):
        body["edition"] = "enterprise" if enterprise else "community"
    if enterprise and license_key is not None:
        body["license"] = {"customer": "Acme", "expiration_date": "2027-01-31"}
    return body


def status_body(*, version: str, database: str, configuration_hash: str) -> dict[str, object]:
    """``GET /status``: DB-less 2.8-3.3 have both keys, 3.4+ only the hash."""
    body: dict[str, object] = {"server": {"total_requests": 10}}
    if database == "off":
        body["configuration_hash"] = configuration_hash
        if _release(version) < (3, 4):
            body["database"] = {"reachable": True}
    else:
        body["database"] = {"reachable": True}
    return body


def report_body(
    *,
    version: str,
    database: str,
    counters: Mapping[str, int] | None,
    license_key: str | None,
    cores: int | None,
    counts: Mapping[str, int] | None = None,
    db_version: str = "postgres 15.4",
) -> dict[str, object]:
    """``GET /license/report`` of an Enterprise node; ``counters`` None: the key is absent."""
    release = _release(version)
    body: dict[str, object] = {
        "kong_version": kong_version(version, enterprise=True),
        "db_version": db_version
        if database != "off"
        else ("off" if release >= (3, 5) else "off nil"),
        "system_info": {"uname": "Linux x86_64"} | ({"cores": cores} if cores else {}),
    }
    counts = counts or {}
    for key in ("rbac_users", "services_count", "workspaces_count"):
        if key in counts:
            body[key] = counts[key]
    if release >= (3, 1) and "consumers_count" in counts:
        body["consumers_count"] = counts["consumers_count"]
    buckets = [{"bucket": b, "request_count": n} for b, n in (counters or {}).items()]
    if release >= (3, 5):
        body["license"] = {
            "license_key": license_key or "UNLICENSED",
            "license_expiration_date": "2027-01-31" if license_key else "2017-7-20",
        }
        if "routes_count" in counts:
            body["routes_count"] = counts["routes_count"]
        if counters is not None:
            body["counters"] = {
                "total_requests": sum(counters.values()),
                "buckets": buckets or {},
            }
    else:
        body["license_key"] = license_key or "UNLICENSED"
        if counters is not None:
            body["counters"] = buckets or {}
    return body


def observation(
    name: str,
    *,
    database: str = "postgres",
    enterprise: bool = True,
    version: str = "3.4.3.12",
    role: str = "traditional",
    telemetry: str = "127.0.0.1:8006",
    counters: Mapping[str, int] | None = None,
    host: str | None = None,
    host_cores: int | None = None,
    own_cores: int | None = 4,
    configuration_hash: str | None = "a" * 32,
    license_key: str | None = None,
    counts: Mapping[str, int] | None = None,
    db_version: str = "postgres 15.4",
) -> aggregation.NodeObservation:
    """One reached node as that Kong answers. ``counters`` is what a DB-mode node's
    datastore holds (its view of license_data); a node whose strategy is ``off``
    (DB-less; hybrid with telemetry NONE, 3.6+) shows none whatever is given."""
    off = database == "off" or (
        role != "traditional" and telemetry == "NONE" and _release(version) >= (3, 6)
    )
    report = None
    if enterprise:
        report = admin_api.NodeLicenseReport.model_validate(
            report_body(
                version=version,
                database=database,
                counters=None if off else (counters or {}),
                license_key=license_key,
                cores=own_cores,
                counts=counts,
                db_version=db_version,
            )
        )
    return aggregation.NodeObservation(
        target=models.Target(
            name=name, url=f"http://{name}:8001", host=host, host_cores=host_cores
        ),
        info=admin_api.NodeInfo.model_validate(
            info_body(
                name,
                version=version,
                enterprise=enterprise,
                database=database,
                role=role,
                telemetry=telemetry,
                license_key=license_key,
            )
        ),
        status=admin_api.NodeStatus.model_validate(
            status_body(
                version=version, database=database, configuration_hash=configuration_hash or ""
            )
        ),
        license_report=report,
    )


def inputs(
    observations: list[aggregation.NodeObservation], **overrides: object
) -> aggregation.Inputs:
    values: dict[str, object] = {
        "observations": observations,
        "failures": [],
        "hash_key": KEY,
        "generated_at": NOW,
    }
    values.update(overrides)
    return aggregation.Inputs(**values)  # type: ignore[arg-type]
