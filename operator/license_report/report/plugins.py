"""Which tier a plugin counts in, in Kong 3.5's ``plugins_count.tiers``.

Kong sorts each plugin instance by its name: bundled with Kong OSS
(``constants.CE_PLUGINS_MAP``: ``free``), bundled with Kong Enterprise only
(``EE_PLUGINS_MAP``, which Kong's build fills in: ``enterprise``), anything
else (``custom``). Kong's build list is not public, so the names below are
gathered from Kong's public sources and plugin hub for 3.x releases; a
bundled plugin missing here would show as ``custom``, which is why the list
errs on the side of including every bundled name known.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Iterable, Mapping

from license_report.report import admin_api, models

#: Bundled with Kong OSS (``kong/constants.lua``), 3.x releases.
FREE = frozenset(
    {
        "acl", "acme", "ai-prompt-decorator", "ai-prompt-guard", "ai-prompt-template",
        "ai-proxy", "ai-request-transformer", "ai-response-transformer", "aws-lambda",
        "azure-functions", "basic-auth", "bot-detection", "correlation-id", "cors", "datadog",
        "file-log", "grpc-gateway", "grpc-web", "hmac-auth", "http-log", "ip-restriction",
        "jwt", "key-auth", "ldap-auth", "loggly", "oauth2", "opentelemetry", "post-function",
        "pre-function", "prometheus", "proxy-cache", "rate-limiting", "redirect",
        "request-size-limiting", "request-termination", "request-transformer",
        "response-ratelimiting", "response-transformer", "session", "standard-webhooks",
        "statsd", "syslog", "tcp-log", "udp-log", "zipkin",
    }
)  # fmt: skip

#: Bundled with Kong Enterprise only, 3.x releases.
ENTERPRISE = frozenset(
    {
        "ai-aws-guardrails", "ai-azure-content-safety", "ai-prompt-compressor",
        "ai-proxy-advanced", "ai-rag-injector", "ai-rate-limiting-advanced", "ai-sanitizer",
        "ai-semantic-cache", "ai-semantic-prompt-guard", "app-dynamics",
        "application-registration", "canary", "confluent", "confluent-consume", "degraphql",
        "exit-transformer", "forward-proxy", "graphql-proxy-cache-advanced",
        "graphql-rate-limiting-advanced", "header-cert-auth", "injection-protection", "jq",
        "json-threat-protection", "jwe-decrypt", "jwt-signer", "kafka-consume", "kafka-log",
        "kafka-upstream", "key-auth-enc", "konnect-application-auth", "ldap-auth-advanced",
        "mocking", "mtls-auth", "oas-validation", "oauth2-introspection", "opa",
        "openid-connect", "proxy-cache-advanced", "rate-limiting-advanced", "request-callout",
        "request-transformer-advanced", "request-validator", "response-transformer-advanced",
        "route-by-header", "route-transformer-advanced", "saml", "service-protection",
        "statsd-advanced", "tls-handshake-modifier", "tls-metadata-headers", "upstream-oauth",
        "upstream-timeout", "vault-auth", "websocket-size-limit", "websocket-validator",
        "xml-threat-protection",
    }
)  # fmt: skip


def tiers(by_name: Mapping[str, int]) -> models.PluginTiers:
    """Instances per plugin name, split into Kong's three tiers (empty names left out)."""
    free: dict[str, int] = {}
    enterprise: dict[str, int] = {}
    custom: dict[str, int] = {}
    for name, count in sorted(by_name.items()):
        if count <= 0:
            continue
        tier = free if name in FREE else enterprise if name in ENTERPRISE else custom
        tier[name] = count
    return models.PluginTiers(free=free, enterprise=enterprise, custom=custom)


def usage(
    plugins: Iterable[admin_api.Plugin], *, serviceless_routes: Collection[str]
) -> models.PluginUsage:
    """Kong 3.5's plugin figures from listed plugins (the Admin API's ``/plugins``).

    As Kong's ``get_plugins_count``: every instance counts under its name; an
    ``aws-lambda`` or ``kafka-upstream`` instance scoped to a route with no
    service, and to nothing else (no service, consumer or consumer group), also
    counts once per distinct ``function_name``, or per distinct broker
    ``host:port``. The datastore reader computes the same in SQL.
    """
    by_name: collections.Counter[str] = collections.Counter()
    functions: set[str] = set()
    brokers: set[str] = set()
    for plugin in plugins:
        by_name[plugin.name] += 1
        scoped = (
            plugin.route is not None
            and plugin.route.id in serviceless_routes
            and plugin.service is None
            and plugin.consumer is None
            and plugin.consumer_group is None
        )
        if not scoped or plugin.config is None:
            continue
        if plugin.name == "aws-lambda" and isinstance(plugin.config.get("function_name"), str):
            functions.add(str(plugin.config["function_name"]))
        if plugin.name == "kafka-upstream":
            servers = plugin.config.get("bootstrap_servers")
            for broker in servers if isinstance(servers, list) else []:
                if isinstance(broker, dict) and "host" in broker and "port" in broker:
                    brokers.add(f"{broker['host']}:{broker['port']}")
    return models.PluginUsage(
        by_name=dict(sorted(by_name.items())),
        unique_route_lambdas=len(functions),
        unique_route_kafkas=len(brokers),
    )
