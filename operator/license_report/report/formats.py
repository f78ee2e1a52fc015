"""The two shapes ``report.json`` can take, and the checksum Kong 3.5's shape carries.

``kong-2.7`` is Kong Enterprise 2.7-3.4's ``GET /license/report``;
``kong-3.5`` is 3.5 and later's, built from the same collection plus what
3.5 added (plugins, deployment, the license's expiration date).

The checksum is Kong's own recipe: the SHA-1 (hex) of the report table as
the Lua ``inspect`` library (3.1.3) prints it, before ``checksum`` is added
(``to_hex(sha1_bin(inspect(report)))`` in Kong's ``get_license_report``);
``report.lua_inspect`` prints it the same way. Anyone who recomputes it
Kong's way gets the same value. Reports made before this release carry the
earlier recipe, the SHA-1 of the report's RFC 8785 canonical JSON without
``checksum``; ``verify`` still accepts those and says which recipe matched.
A checksum catches an edit or a damaged file; it proves nothing about who
wrote the report: that is what signing is for.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping

from license_report.report import aggregation, lua_inspect, models, plugins

#: Where Kong 3.5 and later put the checksum, and what the checksum leaves out.
CHECKSUM_KEY = "checksum"

#: Kong 3.5 reports the current month and the 11 before it (``MONTHS_TO_REPORT = 11``).
KONG_3_5_MONTHS = aggregation.KONG_3_5_MONTHS
#: Kong 2.7-3.4 report the current month and the 23 before it (``MONTHS_TO_REPORT = 23``).
KONG_2_7_MONTHS = aggregation.KONG_2_7_MONTHS

#: What Kong 3.5 reports as the expiration date when no license is loaded: the
#: date of its built-in ``UNLICENSED`` payload, written as Kong writes it.
UNLICENSED_EXPIRATION = "2017-7-20"


class Format(enum.StrEnum):
    KONG_2_7 = aggregation.KONG_2_7
    KONG_3_5 = aggregation.KONG_3_5


#: What a request may ask for: a format, or ``auto`` (the fleet's own Kong's shape).
AUTO = aggregation.AUTO


def _canonical(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # Python escapes exactly what RFC 8785 escapes once non-ASCII is kept as is:
        # the quote, the backslash and control characters (\b \f \n \r \t, else \u00xx).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        # RFC 8785 orders members by their keys' UTF-16 code units.
        keys = sorted(value, key=lambda key: str(key).encode("utf-16-be"))
        members = (
            json.dumps(str(key), ensure_ascii=False) + ":" + _canonical(value[key]) for key in keys
        )
        return "{" + ",".join(members) + "}"
    # Floats would need ECMAScript number formatting; no report field is one.
    raise TypeError(f"a report holds no {type(value).__name__} values")


def canonical_json(value: object) -> bytes:
    """``value`` serialised as RFC 8785 canonical JSON (for the types a report holds)."""
    return _canonical(value).encode("utf-8")


class Recipe(enum.StrEnum):
    """How a ``checksum`` was computed: what ``verify`` says matched."""

    #: Kong's: SHA-1 of ``inspect(report)`` (Lua inspect 3.1.3), what we write now.
    KONG_INSPECT = "SHA-1 of Lua inspect(report), Kong's recipe"
    #: Ours before: SHA-1 of the RFC 8785 canonical JSON; still accepted.
    CANONICAL_JSON = "SHA-1 of the RFC 8785 canonical JSON, the earlier recipe"


def _without_checksum(document: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in document.items() if key != CHECKSUM_KEY}


def checksum(document: Mapping[str, object]) -> str:
    """Kong's checksum: SHA-1 (hex) of ``inspect(document)``, its ``checksum`` left out.

    ``document`` is the report as JSON values; a ``None`` is left out, as a
    ``nil`` is absent from Kong's Lua table.
    """
    rendering = lua_inspect.inspect(_without_checksum(document))
    # A checksum, as Kong's is: it detects change, it authenticates nothing.
    encoded = rendering.encode("utf-8", "surrogatepass")
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest()


def canonical_json_checksum(document: Mapping[str, object]) -> str:
    """The earlier recipe: SHA-1 (hex) of the canonical JSON, ``checksum`` left out."""
    body = canonical_json(_without_checksum(document))
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def matching_recipe(document: Mapping[str, object]) -> Recipe | None:
    """The recipe whose checksum of ``document`` is the one it states, if any.

    Raises ``TypeError`` for values no report holds.
    """
    stated = document.get(CHECKSUM_KEY)
    if stated == checksum(document):
        return Recipe.KONG_INSPECT
    try:
        legacy = canonical_json_checksum(document)
    except TypeError:
        return None  # a float, say: fine in Kong's recipe, never in the earlier one
    return Recipe.CANONICAL_JSON if stated == legacy else None


def kong_3_5(collection: models.Collection) -> models.KongReport35:
    """The Kong 3.5+ report of a collection, checksum included."""
    report = collection.report
    unlicensed = report.license_key == aggregation.UNLICENSED
    usage = collection.plugins or models.PluginUsage()
    body = models.KongReport35(
        checksum="",
        consumers_count=collection.consumers_count or 0,
        counters=None
        if report.counters is None
        else models.Counters35(
            total_requests=sum(counter.request_count for counter in report.counters),
            buckets=list(report.counters),
        ),
        db_version=report.db_version,
        deployment_info=collection.deployment,
        kong_version=report.kong_version,
        license=models.LicenseInfo(
            license_key=report.license_key,
            license_expiration_date=(
                UNLICENSED_EXPIRATION if unlicensed else collection.license_expiration_date
            ),
        ),
        plugins_count=models.PluginsCount(
            tiers=plugins.tiers(usage.by_name),
            unique_route_lambdas=usage.unique_route_lambdas,
            unique_route_kafkas=usage.unique_route_kafkas,
        ),
        rbac_users=report.rbac_users,
        routes_count=collection.routes_count or 0,
        services_count=report.services_count,
        system_info=report.system_info,
        timestamp=int(collection.generated_at.timestamp()),
        workspaces_count=report.workspaces_count,
    )
    return body.model_copy(update={CHECKSUM_KEY: checksum(body.model_dump(mode="json"))})


def document(collection: models.Collection, *, format: Format | None = None) -> dict[str, object]:
    """``report.json``'s content in ``format`` (default: the collection's), as JSON values."""
    if (format or Format(collection.format)) is Format.KONG_3_5:
        return kong_3_5(collection).model_dump(mode="json")
    return collection.report.model_dump(mode="json")
