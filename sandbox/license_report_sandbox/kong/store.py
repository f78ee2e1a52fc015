"""Where a simulated node's figures come from: Kong's tables, as rows, and Kong's queries on them.

- `Datastore`: Kong's PostgreSQL tables held in memory (``license_data`` rows,
  ``workspace_entity_counters`` kept by the same hooks as Kong's DAO, consumers
  with their types, admins, ``clustering_data_planes`` with a ``ttl``). Share one
  object between the nodes of a cluster, as they share one database.
- `PostgresStore`: the same questions asked of a real PostgreSQL seeded with
  Kong's DDL (`license_report_sandbox.kong_schema`), with Kong's own SQL.
- `Declarative`: a DB-less node's own configuration (what Kong imported into LMDB).

A node asks its source the questions Kong's ``get_license_report`` asks; the
answers are rows, and Kong's rules (`sales`) turn them into figures.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

UNKNOWN_BUCKET = "UNKNOWN"
#: ``enums.CONSUMERS.TYPE`` (e95e9e897c:kong/enterprise_edition/dao/enums.lua:20-25).
PROXY, DEVELOPER, ADMIN, APPLICATION = 0, 1, 2, 3
#: ``PORTAL_PREFIX``: developers' RBAC users (e95e9e897c:kong/enterprise_edition/constants.lua:100).
PORTAL_PREFIX = "__PORTAL-"
#: ``cluster_data_plane_purge_delay``'s default, seconds
#: (e95e9e897c:kong/templates/kong_defaults.lua:140).
PURGE_DELAY = datetime.timedelta(seconds=1209600)


@dataclasses.dataclass(frozen=True)
class SimPlugin:
    """A plugin instance; ``route``, ``service`` and ``consumer`` are entity indexes (from 0)."""

    name: str
    route: int | None = None
    service: int | None = None
    consumer: int | None = None
    consumer_group: str | None = None  # Enterprise: a consumer group's id
    config: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class PluginRow:
    """What ``get_plugins_count`` looks at in one plugin row."""

    name: str
    #: ``is_service_less_route_only``: route set, no service/consumer/group, the route
    #: exists and has no service, and the plugin has a config.
    route_only_serviceless: bool
    config: Mapping[str, object]


class Source(typing.Protocol):
    """The questions a node's report and lists ask; answers as Kong's queries give them."""

    async def license_rows(self, *, min_year: int) -> list[tuple[int, int, int]]: ...
    async def entity_counters(self) -> dict[str, int]: ...
    async def table_counts(self) -> dict[str, int]: ...
    async def workspaces_count(self) -> int: ...
    async def dataplanes_count(self) -> int: ...
    async def version_num(self) -> int | None: ...
    async def plugin_rows(self) -> list[PluginRow]: ...
    async def rbac_user_kinds(self) -> list[str]: ...
    async def list_totals(self) -> dict[str, int]: ...
    async def flush(self, *, node_id: str, year: int, month: int, requests: int) -> None: ...

    @property
    def scope(self) -> str: ...


def _serviceless(route: int, *, routes: int, serviceless_routes: int, services: int) -> bool:
    return route < routes and (route >= routes - serviceless_routes or not services)


def _plugin_rows(
    plugins: Sequence[SimPlugin], *, routes: int, serviceless_routes: int, services: int
) -> list[PluginRow]:
    rows = []
    for plugin in plugins:
        bare = plugin.route is not None and _serviceless(
            plugin.route, routes=routes, serviceless_routes=serviceless_routes, services=services
        )
        scoped = (plugin.service, plugin.consumer, plugin.consumer_group) == (None, None, None)
        rows.append(PluginRow(plugin.name, bare and scoped, dict(plugin.config)))
    return rows


class _Entities:
    """The entity figures `Datastore` and `Declarative` both hold as plain counts.

    Kong reads them from different places (tables or LMDB), but the plugin rows
    and the list totals follow from the counts by the same rules in both.
    """

    services: int
    routes: int
    serviceless_routes: int
    consumers: int
    plugins: tuple[SimPlugin, ...]

    def _table_counts(self, *, rbac_users: int) -> dict[str, int]:
        return {
            "rbac_users": rbac_users,
            "services": self.services,
            "routes": self.routes,
            "consumers": self.consumers,  # WHERE type = 0
        }

    async def plugin_rows(self) -> list[PluginRow]:
        return _plugin_rows(
            self.plugins,
            routes=self.routes,
            serviceless_routes=self.serviceless_routes,
            services=self.services,
        )

    def _list_totals(self, *, workspaces: int, data_planes: int) -> dict[str, int]:
        return {
            "services": self.services,
            "routes": self.routes,
            "serviceless_routes": self.serviceless_routes,
            "consumers": self.consumers,
            "plugins": len(self.plugins),
            "workspaces": workspaces,
            "data_planes": data_planes,
        }


def _order(scope: str, kind: str, index: int) -> str:
    """Row order by primary key: uuids are random, so kinds of rows come interleaved."""
    return hashlib.sha256(f"{scope}/{kind}/{index}".encode()).hexdigest()


def rbac_kinds(*, scope: str, users: int, admins: int, developers: int) -> list[str]:
    """Every ``rbac_users`` row's kind ("user", "admin", "developer") in primary-key order."""
    rows = [("user", i) for i in range(users)]
    rows += [("admin", i) for i in range(admins)] + [("developer", i) for i in range(developers)]
    rows.sort(key=lambda row: _order(scope, *row))
    return [kind for kind, _ in rows]


def parse_bucket(bucket: str) -> tuple[int, int]:
    """A report bucket back to ``(year, month)``: ``UNKNOWN`` is the pre-2.7 ``0/0``."""
    if bucket == UNKNOWN_BUCKET:
        return 0, 0
    year, _, month = bucket.partition("-")
    # Kong's columns are smallint: a month 13 row is stored, and labelled "YYYY-13".
    if not (year.isdigit() and month.isdigit() and int(year) and int(month)):
        raise ValueError(f"not a bucket: {bucket!r} (YYYY-MM, non-zero, or UNKNOWN)")
    return int(year), int(month)


def parse_db_version(text: str) -> int:
    """``"postgres 15.4"`` back to a ``server_version_num`` (150004; 9.6.24 -> 90624)."""
    parts = [int(p) for p in text.removeprefix("postgres ").split(".")]
    if parts[0] < 10:
        return parts[0] * 10000 + parts[1] * 100 + (parts[2] if len(parts) > 2 else 0)
    return parts[0] * 10000 + parts[1]


@dataclasses.dataclass(eq=False)
class Datastore(_Entities):
    """Kong's tables of one cluster, in memory; every DB-mode node of the cluster shares it.

    The summary arguments (``services``, ``consumers``, ...) are turned into rows
    as Kong's DAO would have written them: ``workspace_entity_counters`` counts
    proxy consumers only and every RBAC user (5c9fbe14ea:kong/workspaces/counters.lua:71-163).
    ``counters`` (bucket -> requests) become ``license_data`` rows of a node that
    no longer runs; nodes add their own rows as they flush.
    """

    counters: dict[str, int] = dataclasses.field(default_factory=dict)
    services: int = 0
    routes: int = 0
    #: How many of ``routes`` (the last ones) have no service.
    serviceless_routes: int = 0
    #: Proxy consumers (type 0).
    consumers: int = 0
    workspaces: int = 1
    #: RBAC users that are neither admins nor developers.
    rbac_users: int = 0
    plugins: tuple[SimPlugin, ...] = ()
    #: Live ``clustering_data_planes`` rows (ttl in the future) and expired, unpurged ones.
    data_planes: int = 0
    expired_data_planes: int = 0
    #: Kong Manager admins: each a type-2 consumer ``<name>_ADMIN_``, an RBAC user, an admin.
    admins: int = 0
    #: Developer portal developers: each a type-1 consumer and a ``__PORTAL-`` RBAC user.
    developers: int = 0
    #: Applications: type-3 consumers.
    applications: int = 0
    #: Extra ``license_data`` rows: ``(node_id, year, month, req_cnt)``, any values Kong's
    #: columns accept (``year = 0`` with a month, a future month, 0 requests).
    license_data: tuple[tuple[str, int, int, int], ...] = ()
    #: Legacy spelling of ``server_version_num`` ("postgres 15.4").
    db_version: str = ""
    server_version_num: int = 150004
    #: Seeds entity ids, so every node of the cluster lists the same ids.
    cluster_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    rows: dict[tuple[str, int, int], int] = dataclasses.field(init=False, default_factory=dict)
    entity_counter_rows: dict[tuple[str, str], int] = dataclasses.field(
        init=False, default_factory=dict
    )
    data_plane_ttls: list[datetime.datetime] = dataclasses.field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.db_version:
            self.server_version_num = parse_db_version(self.db_version)
        history = str(uuid.uuid5(uuid.NAMESPACE_URL, f"license-report-sim/{self.cluster_id}/old"))
        for bucket, requests in self.counters.items():
            year, month = parse_bucket(bucket)
            self.upsert(node_id=history, year=year, month=month, requests=requests)
        for node_id, year, month, requests in self.license_data:
            self.upsert(node_id=node_id, year=year, month=month, requests=requests)
        # The DAO hooks: +1 per inserted row of a counted entity (should_be_counted).
        self._count("services", self.services)
        self._count("routes", self.routes)
        self._count("consumers", self.consumers)  # types 1-3 are not counted
        self._count("rbac_users", self.rbac_users + self.admins + self.developers)
        now = datetime.datetime.now(datetime.UTC)
        self.data_plane_ttls = [now + PURGE_DELAY] * self.data_planes
        self.data_plane_ttls += [now - datetime.timedelta(days=1)] * self.expired_data_planes

    def _count(self, entity_type: str, rows: int) -> None:
        if rows:
            key = ("default", entity_type)
            self.entity_counter_rows[key] = self.entity_counter_rows.get(key, 0) + rows

    def upsert(self, *, node_id: str, year: int, month: int, requests: int) -> None:
        """``INSERT ... ON CONFLICT (node_id, year, month) DO UPDATE SET req_cnt = req_cnt +
        excluded.req_cnt`` (a5675f3bde:…/strategies/postgres/init.lua:19-24)."""
        key = (node_id, year, month)
        self.rows[key] = self.rows.get(key, 0) + requests

    @property
    def scope(self) -> str:
        return self.cluster_id

    async def license_rows(self, *, min_year: int) -> list[tuple[int, int, int]]:
        # SELECT req_cnt, year, month FROM license_data WHERE year >= $1 OR year = 0
        return [
            (count, year, month)
            for (_, year, month), count in self.rows.items()
            if year >= min_year or year == 0
        ]

    async def entity_counters(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, entity_type), count in self.entity_counter_rows.items():
            totals[entity_type] = totals.get(entity_type, 0) + count
        return totals

    async def table_counts(self) -> dict[str, int]:
        return self._table_counts(rbac_users=self.rbac_users + self.admins + self.developers)

    async def workspaces_count(self) -> int:
        return max(1, self.workspaces)

    async def dataplanes_count(self) -> int:
        now = datetime.datetime.now(datetime.UTC)
        return sum(1 for ttl in self.data_plane_ttls if ttl >= now)

    async def version_num(self) -> int | None:
        return self.server_version_num

    async def rbac_user_kinds(self) -> list[str]:
        return rbac_kinds(
            scope=self.cluster_id,
            users=self.rbac_users,
            admins=self.admins,
            developers=self.developers,
        )

    async def list_totals(self) -> dict[str, int]:
        return self._list_totals(
            workspaces=max(1, self.workspaces), data_planes=await self.dataplanes_count()
        )

    async def flush(self, *, node_id: str, year: int, month: int, requests: int) -> None:
        self.upsert(node_id=node_id, year=year, month=month, requests=requests)


@dataclasses.dataclass(eq=False)
class Declarative(_Entities):
    """A DB-less node's configuration: what ``kong.db`` reads from LMDB.

    Entity counts (3.9+) come from ``declarative_config:entity_count``, written at
    import (e95e9e897c:kong/db/declarative/import.lua:471-522; consumers only if
    ``type == 0``); there is no ``workspace_entity_counters`` and no ``license_data``.
    """

    services: int
    routes: int
    serviceless_routes: int
    consumers: int
    rbac_users: int
    plugins: tuple[SimPlugin, ...]
    scope: str

    async def license_rows(self, *, min_year: int) -> list[tuple[int, int, int]]:
        return []

    async def entity_counters(self) -> dict[str, int]:
        return {}  # inc_counter's `off` branch writes nothing (5c9fbe14ea L122-124)

    async def table_counts(self) -> dict[str, int]:
        return self._table_counts(rbac_users=self.rbac_users)

    async def workspaces_count(self) -> int:
        return 1

    async def dataplanes_count(self) -> int:
        return 0

    async def version_num(self) -> int | None:
        return None  # the off connector has no major_minor_version

    async def rbac_user_kinds(self) -> list[str]:
        return ["user"] * self.rbac_users

    async def list_totals(self) -> dict[str, int]:
        return self._list_totals(workspaces=1, data_planes=0)

    async def flush(self, *, node_id: str, year: int, month: int, requests: int) -> None:
        """The ``off`` strategy: ``flush_data`` does nothing (…/strategies/off/init.lua:21-25)."""


class PostgresStore:
    """Kong's queries against a real PostgreSQL holding Kong's tables (one connection per call).

    Lists are made up from the tables' counts, as `Datastore`'s are; the report's
    figures are read with the statements Kong runs.
    """

    def __init__(self, dsn: str, *, scope: str = "postgres") -> None:
        self._dsn = dsn
        self._scope = scope

    @property
    def scope(self) -> str:
        return self._scope

    async def _rows(self, query: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
            cursor = await conn.execute(query.encode(), params)
            return list(await cursor.fetchall())

    async def license_rows(self, *, min_year: int) -> list[tuple[int, int, int]]:
        # a5675f3bde:…/strategies/postgres/init.lua:26-30: no node filter, no upper bound.
        rows = await self._rows(
            "SELECT req_cnt, year, month FROM license_data WHERE year >= %s OR year = 0",
            [min_year],
        )
        return [(int(c), int(y), int(m)) for c, y, m in rows]

    async def entity_counters(self) -> dict[str, int]:
        rows = await self._rows("SELECT entity_type, count FROM workspace_entity_counters")
        totals: dict[str, int] = {}
        for entity_type, count in rows:
            totals[entity_type] = totals.get(entity_type, 0) + int(count)
        return totals

    async def table_counts(self) -> dict[str, int]:
        # e95e9e897c:kong/workspaces/counters.lua:56-83
        counts = {}
        for table in ("rbac_users", "services", "routes", "consumers"):
            where = " WHERE type = 0" if table == "consumers" else ""
            [(count,)] = await self._rows(f"SELECT COUNT(*) FROM {table}{where};")  # noqa: S608
            counts[table] = int(count)
        return counts

    async def workspaces_count(self) -> int:
        [(count,)] = await self._rows("SELECT COUNT(*) FROM workspaces")
        return int(count)

    async def dataplanes_count(self) -> int:
        # The DAO's ttl filter (e95e9e897c:kong/db/strategies/postgres/init.lua:1196-1201).
        [(count,)] = await self._rows(
            "SELECT COUNT(*) FROM clustering_data_planes "
            "WHERE ttl IS NULL OR ttl >= CURRENT_TIMESTAMP AT TIME ZONE 'UTC'"
        )
        return int(count)

    async def version_num(self) -> int | None:
        [(number,)] = await self._rows("SHOW server_version_num")
        return int(number)

    async def plugin_rows(self) -> list[PluginRow]:
        rows = await self._rows(
            """
            SELECT p.name, p.config,
                   p.route_id IS NOT NULL AND p.service_id IS NULL AND p.consumer_id IS NULL
                   AND p.consumer_group_id IS NULL AND r.id IS NOT NULL AND r.service_id IS NULL
            FROM plugins p LEFT JOIN routes r ON r.id = p.route_id
            """
        )
        return [
            PluginRow(name, bool(bare and config is not None), config)
            for name, config, bare in rows
        ]

    async def rbac_user_kinds(self) -> list[str]:
        rows = await self._rows(
            "SELECT u.name, EXISTS (SELECT 1 FROM admins a WHERE a.rbac_user_id = u.id) "
            "FROM rbac_users u ORDER BY u.id"
        )
        return [
            "admin" if admin else "developer" if name.startswith(PORTAL_PREFIX) else "user"
            for name, admin in rows
        ]

    async def list_totals(self) -> dict[str, int]:
        [(services, routes, bare, consumers, plugins, workspaces)] = await self._rows(
            """
            SELECT (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM routes),
                   (SELECT COUNT(*) FROM routes WHERE service_id IS NULL),
                   (SELECT COUNT(*) FROM consumers WHERE type = 0),
                   (SELECT COUNT(*) FROM plugins), (SELECT COUNT(*) FROM workspaces)
            """
        )
        return {
            "services": int(services),
            "routes": int(routes),
            "serviceless_routes": int(bare),
            "consumers": int(consumers),
            "plugins": int(plugins),
            "workspaces": int(workspaces),
            "data_planes": await self.dataplanes_count(),
        }

    async def flush(self, *, node_id: str, year: int, month: int, requests: int) -> None:
        await self._rows(
            """
            INSERT INTO license_data (node_id, license_creation_date, req_cnt, year, month)
            VALUES (%s, '2017-07-20', %s, %s, %s)
            ON CONFLICT (node_id, year, month)
            DO UPDATE SET req_cnt = license_data.req_cnt + excluded.req_cnt
            RETURNING 1
            """,
            [node_id, requests, year, month],
        )
