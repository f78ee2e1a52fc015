"""Kong's datastore tables, as Kong's migrations create them (the columns we need and a few more).

Column names, types and unique constraints follow Kong's PostgreSQL
migrations (workspace-scoped entities since 2.1, ``license_data`` as of
2.7, plugins' ``instance_name`` as of 3.2 and ``consumer_group_id`` in
Enterprise 3.4); columns that no report reads (TLS settings, ...) are left
out. Kong OSS has none of the Enterprise tables (``rbac_users``, ``admins``,
``license_data``, ``workspace_entity_counters``) nor consumers' ``type``.
Sources (kong-research.md §5, §10): e95e9e897c:kong/enterprise_edition/db/
migrations/enterprise/000_base.lua (workspace_entity_counters L361-366,
rbac_users L369-377, consumers.type L462-473, admins L505-513);
391a5ccef6:…/enterprise/012_2600_to_2700.lua:27-46 (license_data as of 2.7);
e95e9e897c:kong/db/migrations/core/012_213_to_220.lua:11-19 and later
(clustering_data_planes).
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
    labels       jsonb,
    cert_details jsonb
);

CREATE INDEX clustering_data_planes_ttl_idx ON clustering_data_planes (ttl);
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

-- enums.CONSUMERS.TYPE: 0 proxy, 1 developer, 2 admin, 3 application.
ALTER TABLE consumers ADD COLUMN type int NOT NULL DEFAULT 0;
CREATE INDEX consumers_type_idx ON consumers (type);

CREATE TABLE admins (
    id                  uuid PRIMARY KEY,
    created_at          timestamp DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    updated_at          timestamp DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
    consumer_id         uuid REFERENCES consumers (id),
    rbac_user_id        uuid REFERENCES rbac_users (id),
    rbac_token_enabled  boolean NOT NULL,
    email               text,
    status              int,
    username            text UNIQUE,
    custom_id           text UNIQUE
);

-- Kept by the DAO's hooks: +1 / -1 per counted row (proxy consumers only).
CREATE TABLE workspace_entity_counters (
    workspace_id  uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    entity_type   text,
    count         int,
    PRIMARY KEY (workspace_id, entity_type)
);

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
    """Create Kong's tables (Enterprise adds RBAC, admins, consumer types, counters, usage)."""
    if DEFAULT_WORKSPACE_ID not in _COMMON:
        raise AssertionError("the DDL must insert the default workspace with its fixed id")
    with conn.transaction():
        # Several statements in one execute() need the simple query protocol,
        # which psycopg uses when there are no parameters.
        conn.execute(_COMMON.encode())
        if enterprise:
            conn.execute(_ENTERPRISE.encode())
