"""Kong's datastore tables, as Kong's migrations create them (the columns we need and a few more).

Column names, types and unique constraints follow Kong's PostgreSQL
migrations (workspace-scoped entities since 2.1, ``license_data`` as of
2.7, plugins' ``instance_name`` as of 3.2 and ``consumer_group_id`` in
Enterprise 3.4); columns that no report reads (TLS settings, ...) are left
out. Kong OSS has neither ``rbac_users`` nor ``license_data``.
"""

from __future__ import annotations

from typing import Any

import psycopg

#: The ``default`` workspace's id: Kong generates one at bootstrap; a fixed one
#: keeps seeded databases identical from run to run.
DEFAULT_WORKSPACE_ID = "00000000-0000-4000-8000-000000000001"

# created_at / updated_at defaults are Kong's own.
_COMMON = """
CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text UNIQUE,
    comment     text,
    created_at  timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    meta        jsonb,
    config      jsonb
);

INSERT INTO workspaces (id, name, meta, config)
VALUES ('00000000-0000-4000-8000-000000000001', 'default', '{}', '{}');

CREATE TABLE services (
    id               uuid PRIMARY KEY,
    created_at       timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    updated_at       timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    name             text,
    retries          smallint,
    protocol         text,
    host             text,
    port             integer,
    path             text,
    connect_timeout  integer,
    write_timeout    integer,
    read_timeout     integer,
    tags             text[],
    enabled          boolean NOT NULL DEFAULT true,
    ws_id            uuid REFERENCES workspaces (id),
    UNIQUE (ws_id, name)
);

CREATE TABLE routes (
    id              uuid PRIMARY KEY,
    created_at      timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    updated_at      timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    name            text,
    service_id      uuid REFERENCES services (id),
    protocols       text[],
    methods         text[],
    hosts           text[],
    paths           text[],
    strip_path      boolean,
    preserve_host   boolean,
    tags            text[],
    ws_id           uuid REFERENCES workspaces (id),
    UNIQUE (ws_id, name)
);

CREATE INDEX routes_service_id_idx ON routes (service_id);

CREATE TABLE consumers (
    id          uuid PRIMARY KEY,
    created_at  timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    username    text,
    custom_id   text,
    tags        text[],
    ws_id       uuid REFERENCES workspaces (id),
    UNIQUE (ws_id, username),
    UNIQUE (ws_id, custom_id)
);

CREATE TABLE plugins (
    id             uuid PRIMARY KEY,
    created_at     timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    updated_at     timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    name           text NOT NULL,
    instance_name  text,
    consumer_id    uuid REFERENCES consumers (id) ON DELETE CASCADE,
    service_id     uuid REFERENCES services (id) ON DELETE CASCADE,
    route_id       uuid REFERENCES routes (id) ON DELETE CASCADE,
    config         jsonb NOT NULL,
    enabled        boolean NOT NULL,
    cache_key      text UNIQUE,
    protocols      text[],
    tags           text[],
    ws_id          uuid REFERENCES workspaces (id),
    UNIQUE (ws_id, instance_name)
);

CREATE INDEX plugins_name_idx ON plugins (name);
CREATE INDEX plugins_route_id_idx ON plugins (route_id);

CREATE TABLE clustering_data_planes (
    id           uuid PRIMARY KEY,
    hostname     text NOT NULL,
    ip           text NOT NULL,
    last_seen    timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    config_hash  text NOT NULL,
    ttl          timestamptz,
    version      text,
    sync_status  text NOT NULL DEFAULT 'unknown',
    updated_at   timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    labels       jsonb
);
"""

_ENTERPRISE = """
CREATE TABLE rbac_users (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    user_token        text NOT NULL,
    user_token_ident  text,
    comment           text,
    enabled           boolean NOT NULL,
    created_at        timestamptz DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    ws_id             uuid REFERENCES workspaces (id),
    UNIQUE (ws_id, name)
);

CREATE INDEX rbac_users_token_ident_idx ON rbac_users (user_token_ident);

CREATE TABLE license_data (
    node_id                uuid,
    req_cnt                bigint,
    license_creation_date  timestamp,
    year                   smallint NOT NULL,
    month                  smallint NOT NULL
);

CREATE UNIQUE INDEX license_data_key_idx ON license_data (node_id, year, month);

-- Enterprise 3.4: plugins scoped to a consumer group.
ALTER TABLE plugins ADD COLUMN consumer_group_id uuid;
"""


def create_schema(conn: psycopg.Connection[Any], *, enterprise: bool) -> None:
    """Create Kong's tables (Enterprise adds ``rbac_users`` and ``license_data``)."""
    if DEFAULT_WORKSPACE_ID not in _COMMON:
        raise AssertionError("the DDL must insert the default workspace with its fixed id")
    with conn.transaction():
        # Several statements in one execute() need the simple query protocol,
        # which psycopg uses when there are no parameters.
        conn.execute(_COMMON.encode())
        if enterprise:
            conn.execute(_ENTERPRISE.encode())
