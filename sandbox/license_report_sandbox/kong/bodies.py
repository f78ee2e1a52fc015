"""What a node answers on GET ``/``, ``/status`` and ``/license/report``, version by version.

Each body is built the way that Kong version's Lua builds it (kong-research.md
§1, §3, §4, §8; docs/kong-fidelity.md has one row per rule with its source).
Keys Kong leaves nil are absent here too.
"""

from __future__ import annotations

from license_report.report import formats
from license_report_sandbox.kong import nodes, sales, store, versions

#: ``CE_PLUGINS_MAP``: the 45 bundled OSS plugins (e95e9e897c:kong/constants.lua:12-58).
FREE_PLUGINS = frozenset(
    {"jwt", "acl", "correlation-id", "cors", "oauth2", "tcp-log", "udp-log", "file-log",
     "http-log", "key-auth", "hmac-auth", "basic-auth", "ip-restriction", "request-transformer",
     "response-transformer", "request-size-limiting", "rate-limiting", "response-ratelimiting",
     "syslog", "loggly", "datadog", "ldap-auth", "statsd", "bot-detection", "aws-lambda",
     "request-termination", "prometheus", "proxy-cache", "session", "acme", "grpc-gateway",
     "grpc-web", "pre-function", "post-function", "azure-functions", "zipkin", "opentelemetry",
     "ai-proxy", "ai-prompt-template", "ai-prompt-decorator", "ai-prompt-guard",
     "ai-request-transformer", "ai-response-transformer", "standard-webhooks", "redirect"}
)  # fmt: skip
#: ``EE_PLUGINS_MAP``: ``BUNDLED_EE_PLUGINS``
#: (e95e9e897c:kong/enterprise_edition/constants.lua:46-83) plus the packaging's
#: ``distributions_constants.plugins``, a stub in the public source. The names
#: added here (openid-connect, kafka-upstream, ...) are Enterprise plugins Kong
#: ships that the repository's list lacks: an assumption, documented as such.
ENTERPRISE_PLUGINS = frozenset(
    {"ai-azure-content-safety", "ai-rate-limiting-advanced", "application-registration",
     "ai-proxy-advanced", "canary", "degraphql", "exit-transformer", "forward-proxy",
     "proxy-cache-advanced", "graphql-proxy-cache-advanced", "injection-protection", "jq",
     "jwe-decrypt", "jwt-signer", "key-auth-enc", "mocking", "oauth2-introspection",
     "service-protection", "rate-limiting-advanced", "graphql-rate-limiting-advanced",
     "request-transformer-advanced", "response-transformer-advanced", "route-by-header",
     "route-transformer-advanced", "statsd-advanced", "tls-handshake-modifier",
     "tls-metadata-headers", "upstream-timeout", "websocket-size-limit", "websocket-validator",
     "xml-threat-protection", "ai-semantic-prompt-guard", "ai-semantic-cache",
     "json-threat-protection", "confluent"}
    | {"openid-connect", "kafka-upstream", "kafka-log", "request-validator", "opa", "vault-auth"}
)  # fmt: skip
_MASKED = "******"  # how Kong shows a secret setting
#: Kong's built-in payload when no license is loaded
#: (391a5ccef6:kong/counters/sales/init.lua:35-48).
UNLICENSED = {"license_key": "UNLICENSED", "license_expiration_date": "2017-7-20"}


def _payload(node: nodes.SimNode) -> dict[str, object] | None:
    if node.license_key is None:
        return None
    return {
        "admin_seats": "5",
        "customer": "Simulated Customer",
        "dataplanes": "10",
        "license_creation_date": node.license_creation_date,
        "license_expiration_date": node.license_expiration_date,
        "license_key": node.license_key,
        "product_subscription": "Kong Enterprise Edition",
        "support_plan": "Platinum",
    }


def info(node: nodes.SimNode) -> dict[str, object]:
    """``GET /`` (kong/api/routes/kong.lua; EE's ``api:kong:info`` hook)."""
    names = ["acl", "basic-auth", "cors", "key-auth", "prometheus", "rate-limiting"]
    if node.mode.enterprise:
        names += ["openid-connect", "rate-limiting-advanced"]
    available: dict[str, object]
    if node.release.at_least(versions.V3_0):
        bare = node.version.removesuffix(versions.EE_SUFFIX)
        available = {n: {"version": bare, "priority": 1000 - i} for i, n in enumerate(names)}
    else:
        available = dict.fromkeys(names, True)  # 2.x: the loaded_plugins map
    configuration: dict[str, object] = {
        "database": node.database,
        "role": node.role,
        "admin_listen": ["0.0.0.0:8001", "0.0.0.0:8444 ssl"],
        "proxy_listen": ["0.0.0.0:8000", "0.0.0.0:8443 ssl"],
        "log_level": "notice",
        "nginx_worker_processes": "auto",
    }
    if node.mode.enterprise:
        configuration["enforce_rbac"] = "on" if node.token is not None else "off"
        configuration["cluster_telemetry_endpoint"] = node.telemetry_endpoint
        if node.admin_gui_auth:
            configuration["admin_gui_auth"] = "basic-auth"
    if not node.mode.dbless:
        # Kong masks secrets in this listing; the admin token is never in it.
        configuration.update({"pg_host": "postgres", "pg_port": 5432, "pg_password": _MASKED})
    plugins: dict[str, object] = {"available_on_server": available, "enabled_in_cluster": []}
    body: dict[str, object] = {
        "tagline": "Welcome to kong",
        "version": node.version,
        "hostname": node.hostname,
        "node_id": node.node_id,
        "lua_version": "LuaJIT 2.1.0-20231117",
        "timers": {"running": 0, "pending": 7},
        "plugins": plugins,
        "configuration": configuration,
        "pids": {"master": 1, "workers": [1001, 1002]},
    }
    if node.release.at_least(versions.V3_6):
        body["edition"] = "enterprise" if node.mode.enterprise else "community"
    if node.mode.enterprise:
        plugins["disabled_on_server"] = {}
        payload = _payload(node)
        if payload is not None:  # a copy of the payload without license_key
            body["license"] = {k: v for k, v in payload.items() if k != "license_key"}
    return body


def status(node: nodes.SimNode) -> dict[str, object]:
    """``GET /status``: DB-less 2.7 ``database`` only, 2.8-3.3 both, 3.4+ ``configuration_hash``."""
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
    off = node.database == "off"
    if not off or not node.release.at_least(versions.V3_4):
        body["database"] = {"reachable": True}
    if off and node.release.at_least(versions.V2_8):
        body["configuration_hash"] = node.configuration_hash
    return body


def _db_version(node: nodes.SimNode, server_version_num: int | None) -> str:
    """2.7-3.4 ``strategy .. " " .. major_minor`` ("off nil"); 3.5+ "off" alone DB-less."""
    if node.database == "off":
        return "off" if node.release.at_least(versions.V3_5) else "off nil"
    assert server_version_num is not None
    major = server_version_num // 10000
    if major < 10:  # connector.lua:306-324
        minor, patch = server_version_num // 100 % 100, server_version_num % 100
        return f"postgres {major}.{minor}.{patch}"
    return f"postgres {major}.{server_version_num % 100}"


async def _counters(node: nodes.SimNode, source: store.Source) -> dict[str, int] | None:
    """``strategy:pull_data()``: None with ``off``; else the window over ``license_data``."""
    if not node.keeps_counters:
        return None
    first = sales.first_month(node.local_now(), sales.months_to_report(node.release))
    rows = await source.license_rows(min_year=first[0])
    return sales.count_by_month(rows, first=first)


async def _entity_counts(node: nodes.SimNode, source: store.Source) -> dict[str, int]:
    """Counts by DAO table name; keys absent where Kong's map has no entry."""
    if node.release.at_least(versions.V3_9):
        counts = await source.table_counts()
        if node.release.at_least(versions.V3_10):
            return counts  # d6f2b74f8c: always present, 0 when empty
        return {k: v for k, v in counts.items() if v}  # 359d4fa4f1: 0 -> nil
    counters = await source.entity_counters()
    if not node.release.at_least(versions.V2_8):
        # 2.7 (391a5ccef6 L107-127): rbac_users and services default to 0.
        return {
            "rbac_users": counters.get("rbac_users", 0),
            "services": counters.get("services", 0),
        }
    return counters


async def _plugins_count(source: store.Source) -> dict[str, object]:
    """``get_plugins_count`` (e95e9e897c:…/sales/init.lua:97-224)."""
    tiers: dict[str, dict[str, int]] = {"free": {}, "enterprise": {}, "custom": {}}
    functions: set[object] = set()
    brokers: set[str] = set()
    for plugin in await source.plugin_rows():
        tier = (
            "free"
            if plugin.name in FREE_PLUGINS
            else "enterprise"
            if plugin.name in ENTERPRISE_PLUGINS
            else "custom"
        )
        tiers[tier][plugin.name] = tiers[tier].get(plugin.name, 0) + 1
        if not plugin.route_only_serviceless:
            continue
        if plugin.name == "aws-lambda" and plugin.config.get("function_name") is not None:
            functions.add(plugin.config["function_name"])
        servers = plugin.config.get("bootstrap_servers")
        if plugin.name == "kafka-upstream" and isinstance(servers, list):
            for broker in servers:
                if isinstance(broker, dict):
                    brokers.add(f"{broker.get('host')}:{broker.get('port')}")
    return {
        "tiers": tiers,
        "unique_route_lambdas": len(functions),
        "unique_route_kafkas": len(brokers),
    }


def _bucket_list(counts: dict[str, int]) -> list[dict[str, object]] | dict[str, object]:
    """``get_request_buckets``: an empty Lua table encodes as ``{}`` (cjson's default)."""
    return [{"bucket": b, "request_count": n} for b, n in counts.items()] or {}


async def license_report(node: nodes.SimNode) -> dict[str, object]:
    """``get_license_report`` of this node's version; the caller has checked it is Enterprise."""
    source = node.source()
    counters = await _counters(node, source)
    counts = await _entity_counts(node, source)
    db_version = _db_version(node, await source.version_num())
    system_info = {"cores": node.cores, "uname": node.uname}  # hostname: nil since 8a25e5e873
    license = _payload(node) or UNLICENSED
    report: dict[str, object]
    if not node.release.at_least(versions.V3_5):
        report = {
            "kong_version": node.version,
            "db_version": db_version,
            "system_info": system_info,
            "license_key": license["license_key"],
            "workspaces_count": await source.workspaces_count(),
        }
        if counters is not None:
            report["counters"] = _bucket_list(counters)
        keys = {"rbac_users": "rbac_users", "services": "services_count"}
        if node.release.at_least(versions.V3_1):
            keys["consumers"] = "consumers_count"  # 7bda2fe7db
        report.update({key: counts[table] for table, key in keys.items() if table in counts})
        return report
    deployment: dict[str, object] = {"type": "traditional"}
    if node.database == "off":
        deployment = {"type": "dbless"}
    elif node.role == "control_plane":
        deployment = {"type": "hybrid", "connected_dp_count": await source.dataplanes_count()}
    report = {
        "timestamp": int(node.local_now().timestamp()),  # ngx.time(): the node's clock
        "kong_version": node.version,
        "db_version": db_version,
        "system_info": system_info,
        "deployment_info": deployment,
        "license": {
            "license_key": license["license_key"],
            "license_expiration_date": license["license_expiration_date"],
        },
        "workspaces_count": await source.workspaces_count(),
        "plugins_count": await _plugins_count(source),
    }
    if counters is not None:
        report["counters"] = {
            "total_requests": sum(counters.values()),
            "buckets": _bucket_list(counters),
        }
    keys = {"rbac_users": "rbac_users", "services": "services_count"}
    keys |= {"routes": "routes_count", "consumers": "consumers_count"}
    report.update({key: counts[table] for table, key in keys.items() if table in counts})
    # Over the table before `checksum` is set (a5675f3bde L443-444).
    report["checksum"] = formats.checksum(report)  # the product's port of inspect 3.1.3
    return report
