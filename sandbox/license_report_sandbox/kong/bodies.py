"""What a healthy node answers on GET ``/``, ``/status`` and ``/license/report``, in Kong's shapes.

``/license/report`` comes in the 2.7-3.4 shape, or 3.5's for nodes whose
version is 3.5 or later (KONG.md has the fields, version by version).
"""

from __future__ import annotations

import datetime
import hashlib
import json

from license_report_sandbox.kong import nodes

#: Kong OSS's bundled plugins (``kong/constants.lua``): the 3.5 report's "free" tier.
_FREE_PLUGINS = frozenset(
    {"acl", "aws-lambda", "basic-auth", "cors", "correlation-id", "http-log", "jwt",
     "key-auth", "oauth2", "prometheus", "rate-limiting", "request-transformer"}
)  # fmt: skip
_ENTERPRISE_PLUGINS = frozenset(
    {"kafka-upstream", "openid-connect", "rate-limiting-advanced", "request-validator"}
)
_MASKED = "******"  # how Kong shows a secret setting


def _at_least(version: str, wanted: tuple[int, int]) -> bool:
    """Whether a Kong version string ("3.5.0.0-enterprise-edition") is ``wanted`` or later."""
    parts = version.split("-")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= wanted
    except (ValueError, IndexError):
        return False


def info(node: nodes.SimNode, figures: nodes.Figures) -> dict[str, object]:
    plugins = ["acl", "basic-auth", "cors", "key-auth", "prometheus", "rate-limiting"]
    if node.mode.enterprise:
        plugins += ["openid-connect", "rate-limiting-advanced"]
    plugin_version = node.version.removesuffix("-enterprise-edition")
    configuration: dict[str, object] = {
        "database": "off" if node.mode.dbless else "postgres",
        "role": node.role,
        "admin_listen": ["0.0.0.0:8001", "0.0.0.0:8444 ssl"],
        "proxy_listen": ["0.0.0.0:8000", "0.0.0.0:8443 ssl"],
        "log_level": "notice",
        "nginx_worker_processes": "auto",
    }
    if node.mode.enterprise:
        configuration["enforce_rbac"] = "on" if node.token is not None else "off"
    if not node.mode.dbless:
        # Kong masks secrets in this listing; the admin token is never in it.
        configuration.update({"pg_host": "postgres", "pg_port": 5432, "pg_password": _MASKED})
    return {
        "tagline": "Welcome to kong",
        "version": node.version,
        "edition": "enterprise" if node.mode.enterprise else "community",
        "hostname": node.hostname,
        "node_id": node.node_id,
        "lua_version": "LuaJIT 2.1.0-20231117",
        "timers": {"running": 0, "pending": 7},
        "plugins": {
            "available_on_server": {
                name: {"version": plugin_version, "priority": 1000 - i}
                for i, name in enumerate(plugins)
            },
            "enabled_in_cluster": [],
        },
        "configuration": configuration,
        "pids": {"master": 1, "workers": [1001, 1002]},
    }


def status(node: nodes.SimNode) -> dict[str, object]:
    handled = node.total_requests // 10 + 1
    body: dict[str, object] = {
        "memory": {
            "workers_lua_vms": [{"http_allocated_gc": "52.39 MiB", "pid": 1001}],
            "lua_shared_dicts": {"kong": {"allocated_slabs": "0.04 MiB", "capacity": "5.00 MiB"}},
        },
        "server": {
            "connections_active": 2,
            "connections_reading": 0,
            "connections_writing": 1,
            "connections_waiting": 1,
            "connections_accepted": handled,
            "connections_handled": handled,
            "total_requests": node.total_requests,
        },
    }
    if node.mode.dbless:
        body["configuration_hash"] = node.configuration_hash
    else:
        body["database"] = {"reachable": True}
    return body


def _plugins_count(figures: nodes.Figures) -> dict[str, object]:
    """Kong 3.5's ``plugins_count``, computed the way its Lua does."""
    tiers: dict[str, dict[str, int]] = {"free": {}, "enterprise": {}, "custom": {}}
    functions: set[object] = set()
    brokers: set[str] = set()
    for plugin in figures.plugins:
        tier = (
            "free"
            if plugin.name in _FREE_PLUGINS
            else "enterprise"
            if plugin.name in _ENTERPRISE_PLUGINS
            else "custom"
        )
        tiers[tier][plugin.name] = tiers[tier].get(plugin.name, 0) + 1
        route_only = (
            plugin.route is not None
            and plugin.service is None
            and plugin.consumer is None
            and plugin.consumer_group is None
            and nodes.serviceless(figures, plugin.route)
        )
        if route_only and plugin.name == "aws-lambda":
            functions.add(plugin.config.get("function_name"))
        if route_only and plugin.name == "kafka-upstream":
            servers = plugin.config.get("bootstrap_servers")
            for broker in servers if isinstance(servers, list) else []:
                if isinstance(broker, dict):
                    brokers.add(f"{broker.get('host')}:{broker.get('port')}")
    return {
        "tiers": tiers,
        "unique_route_lambdas": len(functions),
        "unique_route_kafkas": len(brokers),
    }


def license_report(node: nodes.SimNode, figures: nodes.Figures) -> dict[str, object]:
    """The 2.7-3.4 shape (``consumers_count`` included, as from late 2022), or 3.5's."""
    if _at_least(node.version, (3, 5)):
        return _license_report_3_5(node, figures)
    buckets = sorted(
        figures.counters.items(), key=lambda kv: (kv[0] == nodes.UNKNOWN_BUCKET, kv[0])
    )
    return {
        "counters": [{"bucket": b, "request_count": n} for b, n in buckets],
        "db_version": figures.db_version,
        "kong_version": node.version,
        "license_key": node.license_key if node.license_key is not None else "UNLICENSED",
        "rbac_users": figures.totals["rbac/users"],
        "services_count": figures.totals["services"],
        "consumers_count": figures.totals["consumers"],
        "workspaces_count": figures.totals["workspaces"],
        "system_info": {"cores": node.cores, "hostname": node.hostname, "uname": node.uname},
    }


def _license_report_3_5(node: nodes.SimNode, figures: nodes.Figures) -> dict[str, object]:
    """The 3.5+ shape, as ``get_license_report`` builds it (buckets in no set order)."""
    deployment: dict[str, object] = {"type": "traditional"}
    if node.mode.dbless:
        deployment = {"type": "dbless"}
    elif node.role == "control_plane":
        deployment = {"type": "hybrid", "connected_dp_count": figures.totals[nodes.DATA_PLANES]}
    licensed = node.license_key is not None
    report: dict[str, object] = {
        "timestamp": int(datetime.datetime.now(datetime.UTC).timestamp()),
        "kong_version": node.version,
        "db_version": figures.db_version,
        "system_info": {"cores": node.cores, "hostname": node.hostname, "uname": node.uname},
        "deployment_info": deployment,
        "license": {
            "license_key": node.license_key if licensed else "UNLICENSED",
            "license_expiration_date": node.license_expiration_date if licensed else "2017-7-20",
        },
        "counters": {
            "total_requests": sum(figures.counters.values()),
            # An empty Lua table: Kong's JSON encoder writes {} for it.
            "buckets": [{"bucket": b, "request_count": n} for b, n in figures.counters.items()]
            or {},
        },
        "rbac_users": figures.totals["rbac/users"],
        "workspaces_count": figures.totals["workspaces"],
        "services_count": figures.totals["services"],
        "routes_count": figures.totals["routes"],
        "consumers_count": figures.totals["consumers"],
        "plugins_count": _plugins_count(figures),
    }
    # Kong hashes its Lua inspect() rendering; any stable rendering will do here.
    rendering = json.dumps(report, sort_keys=True).encode()
    report["checksum"] = hashlib.sha1(rendering, usedforsecurity=False).hexdigest()
    return report
