"""Builders for aggregation inputs, shaped like what real Kong nodes answer."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping

from license_report.report import admin_api, aggregation, models, window

NOW = datetime.datetime(2026, 11, 27, 15, 4, tzinfo=datetime.UTC)
KEY = b"k" * 32

ObservationFactory = Callable[..., aggregation.NodeObservation]


def observation(
    name: str,
    *,
    database: str = "off",
    edition: str = "enterprise",
    version: str = "3.4.3.12-enterprise-edition",
    counters: Mapping[str, int] | None = None,
    host: str | None = None,
    host_cores: int | None = None,
    own_cores: int | None = 4,
    configuration_hash: str | None = "a" * 32,
    license_key: str = "UNLICENSED",
    services: int | None = None,
) -> aggregation.NodeObservation:
    report = None
    if edition == "enterprise":
        report = admin_api.NodeLicenseReport.model_validate(
            {
                "counters": [
                    {"bucket": b, "request_count": n} for b, n in (counters or {}).items()
                ],
                "db_version": "postgres 15.4" if database != "off" else "off",
                "kong_version": version,
                "license_key": license_key,
                "rbac_users": 0,
                "services_count": services or 0,
                "system_info": {
                    "cores": own_cores,
                    "hostname": f"{name}-host",
                    "uname": "Linux x86_64",
                },
                "workspaces_count": 1,
            }
        )
    status: dict[str, object] = {"server": {"total_requests": 10}}
    if database == "off":
        status["configuration_hash"] = configuration_hash
    else:
        status["database"] = {"reachable": True}
    return aggregation.NodeObservation(
        target=models.Target(
            name=name, url=f"http://{name}:8001", host=host, host_cores=host_cores
        ),
        info=admin_api.NodeInfo.model_validate(
            {
                "version": version,
                "edition": edition,
                "hostname": f"{name}-hostname",
                "node_id": f"00000000-0000-0000-0000-{len(name):012d}",
                "configuration": {"database": database},
            }
        ),
        status=admin_api.NodeStatus.model_validate(status),
        license_report=report,
    )


def inputs(
    observations: list[aggregation.NodeObservation], **overrides: object
) -> aggregation.Inputs:
    values: dict[str, object] = {
        "observations": observations,
        "failures": [],
        "window": window.Window.ending(now=NOW, months=12),
        "hash_key": KEY,
        "generated_at": NOW,
    }
    values.update(overrides)
    return aggregation.Inputs(**values)  # type: ignore[arg-type]
