"""Read the report's figures from Kong's PostgreSQL datastore, letting the database count.

One read-only transaction: a probe (server version, which of Kong's tables
exist), then the counts and the per-month usage sent together in one
round trip (a psycopg pipeline). Rows are never fetched to be counted, and
``license_data`` rows outside the window never leave the server.

The statement timeout is set inside the transaction (``SET LOCAL``), not as
a connection ``options`` parameter: PgBouncer, common in front of Kong's
database, rejects ``options`` at connect time but passes ``SET LOCAL`` on.

psycopg is imported by the functions that talk to the server, not by this
module: a DB-less collection (``license-report collect`` without
``--datastore``) uses the settings and errors here and never loads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import math
import re
import typing

from license_report.api import defaults, errors
from license_report.report import models
from license_report.report.window import Window

if typing.TYPE_CHECKING:
    import psycopg
    from psycopg import sql

#: Tables the report counts, as Kong names them. ``rbac_users`` is Enterprise-only.
COUNTED_TABLES = ("services", "routes", "consumers", "workspaces", "rbac_users")
#: Enterprise-only: per-node, per-month request counts.
USAGE_TABLE = "license_data"
#: Plugin instances (Kong 3.5's ``plugins_count``) and hybrid mode's data planes.
PLUGINS_TABLE = "plugins"
DATA_PLANES_TABLE = "clustering_data_planes"
#: Enterprise-only: the per-workspace entity counters Kong 2.7-3.8 report from.
ENTITY_COUNTERS_TABLE = "workspace_entity_counters"
#: The ``entity_type`` of each count the report takes from it (the DAO table names).
ENTITY_COUNTER_TYPES = ("services", "routes", "consumers", "rbac_users")

_APPLICATION_NAME = "license-report-operator"


@dataclasses.dataclass(frozen=True)
class DatastoreSettings:
    """Where Kong's database is, who reads it, and how long to wait for it."""

    host: str
    port: int = defaults.POSTGRES_PORT
    database: str = defaults.POSTGRES_DATABASE
    user: str = defaults.POSTGRES_USER
    password: str | None = dataclasses.field(default=None, repr=False)
    sslmode: str = defaults.POSTGRES_SSL_MODE
    # seconds, for connecting (TCP, TLS, authentication)
    connect_timeout: float = defaults.POSTGRES_TIMEOUT_SECONDS
    statement_timeout: float = defaults.POSTGRES_TIMEOUT_SECONDS  # seconds, for each query
    #: The address to connect to instead of resolving ``host`` (a port-forward's local
    #: endpoint): libpq still checks the server's certificate against ``host``.
    hostaddr: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("the datastore host is empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"the datastore port must be 1-65535, got {self.port}")
        if self.connect_timeout <= 0 or self.statement_timeout <= 0:
            raise ValueError("datastore timeouts must be positive")

    @property
    def where(self) -> str:
        """``host:port/database (user "x")``: what messages name; never the password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.hostaddr is not None:
            host = f"{host} (at {self.hostaddr})"
        return f'{host}:{self.port}/{self.database} (user "{self.user}")'


class DatastoreError(errors.ReportError):
    """The datastore could not be read. The message says what failed and what to do.

    ``transient`` tells whether trying again later may succeed (the server is
    down, starting, overloaded or slow) or not (wrong password, database,
    privileges or TLS settings: someone must change something first).
    """

    def __init__(self, message: str, *, reason: errors.Reason, transient: bool) -> None:
        super().__init__(message, reason=reason, transient=transient)


async def read(*, settings: DatastoreSettings, window: Window) -> models.DatastoreFigures:
    """The datastore's figures: version, entity counts both ways Kong counts them (rows,
    and ``workspace_entity_counters``), and the ``license_data`` rows ``window`` keeps
    by Kong's rule, summed per (year, month).

    A table Kong OSS lacks (``rbac_users``, ``license_data``) counts 0 and is
    listed in ``missing_tables``. A database without ``services`` is not a
    Kong datastore (wrong database name, or migrations not run) and raises a
    non-transient ``DatastoreError``: a report of zeros would look genuine.
    """
    import psycopg

    # The server bounds each query, libpq the connection; this bounds the
    # rest (a network that silently drops packets mid-query).
    budget = settings.connect_timeout + 3 * settings.statement_timeout + 2.0
    try:
        async with asyncio.timeout(budget):
            conn = await _connect(settings)
            async with conn:
                try:
                    return await _query(conn, settings=settings, window=window)
                except psycopg.Error as err:
                    raise _query_error(err, settings=settings) from err
    except TimeoutError:
        raise _error(
            f"the Kong datastore at {settings.where} did not answer within {budget:g} s; "
            "check the network path to it",
            reason=errors.Reason.DATASTORE_TIMEOUT,
            transient=True,
            settings=settings,
        ) from None


def db_version(server_version_num: int) -> str:
    """Kong's ``db_version`` from ``server_version_num``, as Kong's connector spells it
    (e95e9e897c:kong/db/strategies/postgres/connector.lua:306-324): from PostgreSQL 10
    ``"postgres <major>.<minor>"`` (160010: ``"postgres 16.10"``), before it the three
    parts (90624: ``"postgres 9.6.24"``)."""
    major = server_version_num // 10000
    if major < 10:
        return f"postgres {major}.{server_version_num // 100 % 100}.{server_version_num % 100}"
    return f"postgres {major}.{server_version_num % 100}"


# --- connecting ----------------------------------------------------------------------


async def _connect(settings: DatastoreSettings) -> psycopg.AsyncConnection[tuple[object, ...]]:
    import psycopg

    try:
        # libpq counts connect_timeout in whole seconds (at least 2); the
        # asyncio timeout keeps to the configured figure exactly.
        async with asyncio.timeout(settings.connect_timeout):
            return await psycopg.AsyncConnection.connect(
                host=settings.host,
                hostaddr=settings.hostaddr,  # None: left out of the conninfo
                port=settings.port,
                dbname=settings.database,
                user=settings.user,
                password=settings.password,
                sslmode=settings.sslmode,
                connect_timeout=max(2, math.ceil(settings.connect_timeout)),
                application_name=_APPLICATION_NAME,
                # No server-side prepared statements: each query runs once, and
                # PgBouncer in transaction mode cannot keep them.
                prepare_threshold=None,
            )
    except TimeoutError:
        raise _error(
            f"connecting to the Kong datastore at {settings.where} timed out after "
            f"{settings.connect_timeout:g} s; check that the host and port are right and "
            "that PostgreSQL is reachable from the operator",
            reason=errors.Reason.DATASTORE_TIMEOUT,
            transient=True,
            settings=settings,
        ) from None
    except psycopg.Error as err:
        raise _connect_error(err, settings=settings) from err


class _Rule(typing.NamedTuple):
    pattern: str  # a regular expression searched in libpq's message, ignoring case
    reason: errors.Reason
    transient: bool
    advice: str


# First match wins. Connection errors carry no SQLSTATE in psycopg: libpq's
# text is all there is.
_CONNECT_FAILURES = (
    _Rule(
        r"no password supplied",
        errors.Reason.DATASTORE_AUTHENTICATION_FAILED,
        False,
        "the server requires a password and none was given; set the datastore password",
    ),
    _Rule(
        r"password authentication failed",
        errors.Reason.DATASTORE_AUTHENTICATION_FAILED,
        False,
        "check that the datastore password (its Secret) is the PostgreSQL role's password",
    ),
    _Rule(
        r"pg_hba\.conf",
        errors.Reason.DATASTORE_AUTHENTICATION_FAILED,
        False,
        "the server's pg_hba.conf refuses this user, database or client address, or "
        "wants TLS; allow it there or change the datastore sslMode",
    ),
    _Rule(
        r"authentication failed",
        errors.Reason.DATASTORE_AUTHENTICATION_FAILED,
        False,
        "check the datastore user and password",
    ),
    _Rule(
        r"not permitted to log in|permission denied",
        errors.Reason.DATASTORE_PERMISSION_DENIED,
        False,
        "the role needs LOGIN and CONNECT on the database",
    ),
    _Rule(
        r'role ".*" does not exist',
        errors.Reason.DATASTORE_AUTHENTICATION_FAILED,
        False,
        "check the datastore user name",
    ),
    _Rule(
        r'database ".*" does not exist',
        errors.Reason.DATASTORE_DATABASE_NOT_FOUND,
        False,
        "check the datastore database name (Kong's default is 'kong')",
    ),
    _Rule(
        # Not "SSL SYSCALL error": that is a connection cut, worth a retry.
        r"ssl was required|does not support ssl|ssl error|certificate|sslmode",
        errors.Reason.DATASTORE_TLS_ERROR,
        False,
        "check the datastore sslMode against the server's TLS setup",
    ),
    _Rule(
        r"connection refused",
        errors.Reason.DATASTORE_CONNECTION_REFUSED,
        True,
        "check that PostgreSQL is running and listens on that host and port",
    ),
    _Rule(
        r"timeout expired|timed out",
        errors.Reason.DATASTORE_TIMEOUT,
        True,
        "check that the host and port are right and that PostgreSQL is reachable",
    ),
    _Rule(
        r"resolve host|translate host name",
        errors.Reason.DATASTORE_UNAVAILABLE,
        True,
        "check the datastore host name (or it is not in DNS yet)",
    ),
)

# Starting up, shutting down, too many clients, connection reset...: whatever
# else stops a connection is worth another try.
_OTHERWISE = _Rule("", errors.Reason.DATASTORE_UNAVAILABLE, True, "retry later")


def _connect_error(err: psycopg.Error, *, settings: DatastoreSettings) -> DatastoreError:
    detail = _libpq_detail(str(err))
    rule = next(
        (rule for rule in _CONNECT_FAILURES if re.search(rule.pattern, detail, re.IGNORECASE)),
        _OTHERWISE,
    )
    return _error(
        f"cannot connect to the Kong datastore at {settings.where}: {detail}; {rule.advice}",
        reason=rule.reason,
        transient=rule.transient,
        settings=settings,
    )


def _libpq_detail(message: str) -> str:
    """The part of libpq's message after 'connection to server at ... failed:'."""
    first = message.strip().splitlines()[0] if message.strip() else message
    _, sep, rest = first.rpartition(" failed: ")
    detail = rest if sep else first
    return detail.replace("FATAL:", "").strip()


# --- querying ------------------------------------------------------------------------


async def _query(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    *,
    settings: DatastoreSettings,
    window: Window,
) -> models.DatastoreFigures:
    await conn.set_read_only(True)
    async with conn.transaction():
        version, missing, typed = await _probe(conn, settings=settings)
        if "services" in missing:
            raise _error(
                f"the database at {settings.where} has no Kong tables "
                f"(missing: {', '.join(missing)}); check the datastore database name, "
                "and that Kong's migrations have run (kong migrations bootstrap)",
                reason=errors.Reason.DATASTORE_NOT_A_KONG_DATABASE,
                transient=False,
                settings=settings,
            )
        present = [table for table in COUNTED_TABLES if table not in missing]
        async with conn.pipeline():
            counts_cursor = await conn.execute(_counts_query(present, consumer_types=typed))
            counters_cursor = usage_cursor = None
            if ENTITY_COUNTERS_TABLE not in missing:
                counters_cursor = await conn.execute(_ENTITY_COUNTERS_QUERY)
            if USAGE_TABLE not in missing:
                usage_cursor = await conn.execute(_USAGE_QUERY, _window_params(window))
            plugins_cursor = scoped_cursor = data_planes_cursor = None
            if PLUGINS_TABLE not in missing:
                plugins_cursor = await conn.execute(_PLUGINS_QUERY)
                scoped_cursor = await conn.execute(_ROUTE_SCOPED_QUERY)
            if DATA_PLANES_TABLE not in missing:
                data_planes_cursor = await conn.execute(_DATA_PLANES_QUERY)
        counts_row = await counts_cursor.fetchone()
        counter_rows = await counters_cursor.fetchall() if counters_cursor is not None else None
        usage_rows = await usage_cursor.fetchall() if usage_cursor is not None else []
        plugin_rows = await plugins_cursor.fetchall() if plugins_cursor is not None else []
        scoped_row = await scoped_cursor.fetchone() if scoped_cursor is not None else (0, 0)
        data_planes_row = (
            await data_planes_cursor.fetchone() if data_planes_cursor is not None else None
        )

    assert counts_row is not None  # a SELECT without FROM returns one row
    assert scoped_row is not None
    counted = {table: _as_int(value) for table, value in zip(present, counts_row, strict=True)}
    plugin_usage = models.PluginUsage(
        by_name={str(name): _as_int(count) for name, count in plugin_rows},
        unique_route_lambdas=_as_int(scoped_row[0]),
        unique_route_kafkas=_as_int(scoped_row[1]),
    )
    sums = (
        None
        if counter_rows is None
        else {str(kind): _as_int(total) for kind, total in counter_rows}
    )
    return models.DatastoreFigures(
        db_version=db_version(version),
        counts=models.EntityCounts(
            **{table: counted.get(table, 0) for table in COUNTED_TABLES},
            plugins=plugin_usage,
            data_planes=None if data_planes_row is None else _as_int(data_planes_row[0]),
        ),
        counters=None
        if sums is None
        else models.EntityCounters(**{kind: sums.get(kind, 0) for kind in ENTITY_COUNTER_TYPES}),
        usage=[
            models.MonthUsage(year=_as_int(year), month=_as_int(month), requests=_as_int(total))
            for year, month, total in usage_rows
        ],
        missing_tables=sorted(missing),
    )


async def _probe(
    conn: psycopg.AsyncConnection[tuple[object, ...]], *, settings: DatastoreSettings
) -> tuple[int, list[str], bool]:
    """Set the statement timeout, read the version, find which tables are missing and
    whether ``consumers`` has Kong Enterprise's ``type`` column.

    ``to_regclass`` takes no lock, so this cannot wait behind a migration;
    unqualified names follow the user's ``search_path``, as Kong's do.
    """
    from psycopg import sql

    tables = [
        *COUNTED_TABLES,
        USAGE_TABLE,
        PLUGINS_TABLE,
        DATA_PLANES_TABLE,
        ENTITY_COUNTERS_TABLE,
    ]
    probe = sql.SQL(
        "SELECT set_config('statement_timeout', %s, true), "
        "current_setting('server_version_num')::int, "
        "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('consumers') "
        "AND attname = 'type' AND NOT attisdropped), {}"
    ).format(
        sql.SQL(", ").join(
            sql.SQL("to_regclass({}) IS NULL").format(sql.Literal(table)) for table in tables
        )
    )
    timeout_ms = str(max(1, round(settings.statement_timeout * 1000)))
    cursor = await conn.execute(probe, [timeout_ms])
    row = await cursor.fetchone()
    assert row is not None
    missing = [table for table, absent in zip(tables, row[3:], strict=True) if absent]
    return _as_int(row[1]), missing, bool(row[2])


def _counts_query(tables: list[str], *, consumer_types: bool) -> sql.Composed:
    from psycopg import sql

    def count(table: str) -> sql.Composed:
        # Kong counts proxy consumers only (type 0); an admin's consumer is type 2.
        where = sql.SQL(" WHERE type = 0" if table == "consumers" and consumer_types else "")
        return sql.SQL("(SELECT count(*) FROM {}{})").format(sql.Identifier(table), where)

    # Scalar subqueries: one row, every count computed by the server.
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(count(table) for table in tables))


# Kong 2.7-3.8's counts: the counters of every workspace, summed per entity type.
_ENTITY_COUNTERS_QUERY = """
    SELECT entity_type, coalesce(sum(count), 0)
    FROM workspace_entity_counters
    WHERE entity_type IN ('services', 'routes', 'consumers', 'rbac_users')
    GROUP BY entity_type
"""


# Kong's should_report_bucket (…/strategies/common.lua:30-38) in SQL: year 0, or from
# the window's first month on, with no upper bound. A row with month 0 is kept only in
# a later year than the first month's; its label (UNKNOWN) is given in Python.
_USAGE_QUERY = """
    SELECT year, month, coalesce(sum(req_cnt), 0)
    FROM license_data
    WHERE year = 0
       OR year > %(first_year)s
       OR (year = %(first_year)s AND month >= %(first_month)s)
    GROUP BY year, month
    ORDER BY year, month
"""


# Plugin instances per name, every workspace, enabled or not: what Kong 3.5 counts.
_PLUGINS_QUERY = "SELECT name, count(*) FROM plugins GROUP BY name ORDER BY name"

# Kong 3.5's unique_route_lambdas and unique_route_kafkas: instances on a route
# that has no service, and with no service, consumer or consumer group of their
# own; lambdas counted once per function_name, Kafka once per broker host:port
# over all of them. consumer_group_id is Enterprise 3.4+: read through to_jsonb,
# it is NULL where the column does not exist.
_ROUTE_SCOPED_QUERY = """
    SELECT
      (SELECT count(DISTINCT p.config ->> 'function_name')
       FROM plugins p JOIN routes r ON r.id = p.route_id
       WHERE p.name = 'aws-lambda'
         AND r.service_id IS NULL AND p.service_id IS NULL AND p.consumer_id IS NULL
         AND to_jsonb(p) ->> 'consumer_group_id' IS NULL),
      (SELECT count(DISTINCT (broker ->> 'host') || ':' || (broker ->> 'port'))
       FROM plugins p JOIN routes r ON r.id = p.route_id
       CROSS JOIN LATERAL jsonb_array_elements(
         CASE jsonb_typeof(p.config -> 'bootstrap_servers')
           WHEN 'array' THEN p.config -> 'bootstrap_servers' ELSE '[]'::jsonb END
       ) AS broker
       WHERE p.name = 'kafka-upstream'
         AND r.service_id IS NULL AND p.service_id IS NULL AND p.consumer_id IS NULL
         AND to_jsonb(p) ->> 'consumer_group_id' IS NULL)
"""

# Data planes a control plane lists: rows whose ttl has not passed, as Kong's DAO reads them.
_DATA_PLANES_QUERY = "SELECT count(*) FROM clustering_data_planes WHERE ttl IS NULL OR ttl >= now()"


def _window_params(window: Window) -> dict[str, int]:
    return {"first_year": window.first.year, "first_month": window.first.month}


def _query_error(err: psycopg.Error, *, settings: DatastoreSettings) -> DatastoreError:
    import psycopg
    from psycopg import errors as pg_errors

    primary = err.diag.message_primary or str(err).strip().splitlines()[0]
    if isinstance(err, pg_errors.QueryCanceled):
        if "statement timeout" in primary:
            return _error(
                f"a query on the Kong datastore at {settings.where} exceeded the statement "
                f"timeout of {settings.statement_timeout:g} s (a table locked by a Kong "
                "migration, or an overloaded server); retry later or raise the timeout",
                reason=errors.Reason.DATASTORE_STATEMENT_TIMEOUT,
                transient=True,
                settings=settings,
            )
        return _error(
            f"a query on the Kong datastore at {settings.where} was cancelled: {primary}",
            reason=errors.Reason.DATASTORE_UNAVAILABLE,
            transient=True,
            settings=settings,
        )
    if isinstance(err, pg_errors.InsufficientPrivilege):
        return _error(
            f"the Kong datastore at {settings.where} refused a read: {primary}; grant the "
            f"user SELECT on Kong's tables (GRANT SELECT ON ALL TABLES IN SCHEMA public TO \""
            f'{settings.user}")',
            reason=errors.Reason.DATASTORE_PERMISSION_DENIED,
            transient=False,
            settings=settings,
        )
    if isinstance(err, psycopg.OperationalError):
        # The server went away (shutdown, restart, network) in mid-read.
        return _error(
            f"the Kong datastore at {settings.where} dropped the connection: {primary}",
            reason=errors.Reason.DATASTORE_UNAVAILABLE,
            transient=True,
            settings=settings,
        )
    return _error(
        f"reading the Kong datastore at {settings.where} failed "
        f"({err.sqlstate or type(err).__name__}): {primary}; are these Kong 2.7+ tables?",
        reason=errors.Reason.DATASTORE_QUERY_FAILED,
        transient=False,
        settings=settings,
    )


def _error(
    message: str, *, reason: errors.Reason, transient: bool, settings: DatastoreSettings
) -> DatastoreError:
    # Belt and braces: nothing we build includes the password, but a server or
    # libpq message might echo what it was given.
    if settings.password:
        message = message.replace(settings.password, "*****")
    return DatastoreError(message, reason=reason, transient=transient)


def _as_int(value: object) -> int:
    """An integer the server returned: ``count`` gives an int, ``sum`` a Decimal."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"expected an integer from the datastore, got {value!r}")
