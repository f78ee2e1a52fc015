"""The Kong simulator answers as Kong's own source says, version by version and mode by mode.

Every expectation here is written from kong-research.md (Kong's Lua, cited
commit:path in docs/kong-fidelity.md), worked out by hand, never read back
from the simulator: a simulator that drifts from Kong fails these tests.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable

import aiohttp
import psycopg
import pytest

from license_report.report import formats
from license_report_sandbox import kong, seed
from tests.helpers import datastores, lua

#: The clock every node here runs on: 3.5's window starts 2025-12, 2.x's 2024-12.
NOW = datetime.datetime(2026, 11, 27, 15, 4, tzinfo=datetime.UTC)


def fixed(now: datetime.datetime = NOW) -> Callable[[], datetime.datetime]:
    return lambda: now


def node(name: str = "kong", **options: object) -> kong.SimNode:
    values: dict[str, object] = {"name": name, "mode": kong.Mode.EE_DB, "clock": fixed()}
    values.update(options)
    if values["mode"] in (kong.Mode.EE_DB, kong.Mode.OSS_DB) and "datastore" not in values:
        values["datastore"] = kong.Datastore()
    return kong.SimNode(**values)  # type: ignore[arg-type]


async def get(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, object]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.json()


async def bodies(
    session: aiohttp.ClientSession, *nodes: kong.SimNode, path: str = "/license/report"
) -> list[dict[str, object]]:
    found = []
    async with kong.Fleet(nodes) as fleet:
        for each in nodes:
            status, body = await get(session, fleet.url(each) + path)
            assert status == 200, body
            assert isinstance(body, dict)
            found.append(body)
    return found


# --- GET / -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "enterprise", "version", "edition"),
    [
        ("2.8.4.1", True, "2.8.4.1-enterprise-edition", None),
        ("3.4.3.12-enterprise-edition", True, "3.4.3.12", None),
        ("3.5.0.2", True, "3.5.0.2", None),
        ("3.6.1.4", True, "3.6.1.4", "enterprise"),
        ("3.8.1.0", True, "3.8.1.0", "enterprise"),
        ("3.9.1.1", True, "3.9.1.1", "enterprise"),
        ("3.4.2", False, "3.4.2", None),
        ("3.9.1", False, "3.9.1", "community"),
    ],
)
async def test_root_shows_the_version_and_edition_as_that_kong_does(
    session: aiohttp.ClientSession, given: str, enterprise: bool, version: str, edition: str | None
) -> None:
    mode = kong.Mode.EE_DBLESS if enterprise else kong.Mode.OSS_DBLESS
    licensed = node(mode=mode, version=given, license_key="KEY-ROOT")
    [body] = await bodies(session, licensed, path="/")
    assert body["version"] == version
    assert body.get("edition") == edition
    configuration = body["configuration"]
    assert isinstance(configuration, dict)
    assert (configuration["database"], configuration["role"]) == ("off", "traditional")
    if enterprise:
        # The payload without license_key, in every version (api:kong:info hook).
        license = body["license"]
        assert isinstance(license, dict)
        assert "license_key" not in license
        assert license["license_expiration_date"] == "2030-01-01"
        assert configuration["cluster_telemetry_endpoint"] == "127.0.0.1:8006"
    else:
        assert "license" not in body
    plugins = body["plugins"]
    assert isinstance(plugins, dict)
    available = plugins["available_on_server"]
    assert isinstance(available, dict)
    # 2.x: the loaded_plugins map (name -> true); 3.x: name -> {version, priority}.
    assert (available["cors"] is True) == given.startswith("2.")


async def test_an_unlicensed_enterprise_node_shows_no_license_object(
    session: aiohttp.ClientSession,
) -> None:
    [body] = await bodies(session, node(mode=kong.Mode.EE_DBLESS, version="3.5.0.2"), path="/")
    assert "license" not in body
    assert "edition" not in body


# --- GET /status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "database", "keys"),
    [
        ("2.7.2.0", "off", {"database"}),
        ("2.8.4.1", "off", {"database", "configuration_hash"}),
        ("3.3.1.1", "off", {"database", "configuration_hash"}),
        ("3.4.3.12", "off", {"configuration_hash"}),
        ("3.9.1.1", "off", {"configuration_hash"}),
        ("2.8.4.1", "postgres", {"database"}),
        ("3.9.1.1", "postgres", {"database"}),
    ],
)
async def test_status_has_database_or_configuration_hash_by_version(
    session: aiohttp.ClientSession, version: str, database: str, keys: set[str]
) -> None:
    mode = kong.Mode.EE_DBLESS if database == "off" else kong.Mode.EE_DB
    [body] = await bodies(session, node(mode=mode, version=version), path="/status")
    assert {"database", "configuration_hash"} & set(body) == keys


# --- /license/report: shapes -------------------------------------------------------------------


async def test_2_7_and_2_8_differ_on_absent_count_keys(session: aiohttp.ClientSession) -> None:
    """2.7 defaults rbac_users/services_count to 0; 2.8 omits a count with no counter row."""
    old, newer = await bodies(
        session,
        node("a", mode=kong.Mode.EE_DBLESS, version="2.7.2.0"),
        node("b", mode=kong.Mode.EE_DBLESS, version="2.8.4.1", license_key="K-28"),
    )
    assert old == {
        "kong_version": "2.7.2.0-enterprise-edition",
        "db_version": "off nil",
        "system_info": {"cores": 4, "uname": "Linux x86_64"},
        "license_key": "UNLICENSED",
        "workspaces_count": 1,
        "rbac_users": 0,
        "services_count": 0,
    }
    assert newer == {
        "kong_version": "2.8.4.1-enterprise-edition",
        "db_version": "off nil",
        "system_info": {"cores": 4, "uname": "Linux x86_64"},
        "license_key": "K-28",
        "workspaces_count": 1,
    }


async def test_the_2x_shape_gains_consumers_count_in_3_1_proxy_consumers_only(
    session: aiohttp.ClientSession,
) -> None:
    cluster = kong.Datastore(
        counters={"2026-11": 4}, services=2, consumers=3, rbac_users=1, admins=2, developers=1,
        applications=1, workspaces=2,
    )  # fmt: skip
    v30, v34 = await bodies(
        session,
        node("a", version="3.0.1.0", datastore=cluster),
        node("b", version="3.4.3.12", datastore=cluster),
    )
    assert "consumers_count" not in v30
    assert v30["kong_version"] == "3.0.1.0"
    assert v34["consumers_count"] == 3  # admins, developers, applications are not type 0
    assert v34["rbac_users"] == 4  # every RBAC user: 1 + 2 admins + 1 developer
    assert (v34["services_count"], v34["workspaces_count"]) == (2, 2)
    assert v34["counters"] == [{"bucket": "2026-11", "request_count": 4}]
    assert v34["db_version"] == "postgres 15.4"
    assert "routes_count" not in v34
    assert "timestamp" not in v34
    assert "checksum" not in v34


async def test_3_5_shape_without_datastore_has_no_counters_and_counts(
    session: aiohttp.ClientSession,
) -> None:
    dbless = node(mode=kong.Mode.EE_DBLESS, version="3.5.0.2", services=3, counters={"2026-11": 9})
    [body] = await bodies(session, dbless)
    checksum = body.pop("checksum")
    assert set(body) == {
        "timestamp", "kong_version", "db_version", "system_info", "deployment_info",
        "license", "workspaces_count", "plugins_count",
    }  # fmt: skip
    assert body["db_version"] == "off"
    assert body["deployment_info"] == {"type": "dbless"}
    assert body["license"] == {"license_key": "UNLICENSED", "license_expiration_date": "2017-7-20"}
    assert body["timestamp"] == int(NOW.timestamp())
    assert body["plugins_count"] == {
        "tiers": {"free": {}, "enterprise": {}, "custom": {}},
        "unique_route_lambdas": 0,
        "unique_route_kafkas": 0,
    }
    assert checksum == formats.checksum(body)
    assert dbless.proxied == {"2026-11": 9}  # what it served; Kong kept none of it


async def test_3_9_counts_rows_and_hides_zero_counts_until_3_10(
    session: aiohttp.ClientSession,
) -> None:
    cluster = kong.Datastore(services=2, consumers=1, admins=1)
    v38, v39, v310 = await bodies(
        session,
        node("a", version="3.8.1.0", datastore=cluster),
        node("b", version="3.9.1.1", datastore=cluster),
        node("c", version="3.10.0.0", datastore=cluster),
    )
    # 3.8: workspace_entity_counters (no routes row); 3.9: COUNT(*), 0 -> nil; 3.10: 0 kept.
    assert {k: v38.get(k) for k in ("services_count", "routes_count", "consumers_count")} == {
        "services_count": 2, "routes_count": None, "consumers_count": 1,
    }  # fmt: skip
    assert "routes_count" not in v39
    assert (v39["consumers_count"], v39["rbac_users"]) == (1, 1)
    assert v310["routes_count"] == 0
    assert v39["counters"] == {"total_requests": 0, "buckets": {}}


async def test_3_9_dbless_counts_from_the_declarative_config(
    session: aiohttp.ClientSession,
) -> None:
    [body] = await bodies(
        session, node(mode=kong.Mode.EE_DBLESS, version="3.9.1.1", services=4, routes=2)
    )
    assert (body["services_count"], body["routes_count"]) == (4, 2)
    assert "consumers_count" not in body  # 0 -> nil at 359d4fa4f1
    assert "counters" not in body
    assert body["db_version"] == "off"


@pytest.mark.parametrize(
    ("server_version_num", "expected"),
    [(90624, "postgres 9.6.24"), (130004, "postgres 13.4"), (160010, "postgres 16.10")],
)
async def test_db_version_follows_the_connector(
    session: aiohttp.ClientSession, server_version_num: int, expected: str
) -> None:
    cluster = kong.Datastore(server_version_num=server_version_num)
    old, new = await bodies(
        session,
        node("a", version="2.8.4.1", datastore=cluster),
        node("b", version="3.5.0.2", datastore=cluster),
    )
    assert old["db_version"] == new["db_version"] == expected


async def test_oss_has_no_license_report(session: aiohttp.ClientSession) -> None:
    oss = node(mode=kong.Mode.OSS_DBLESS, version="3.9.1")
    async with kong.Fleet([oss]) as fleet:
        assert await get(session, fleet.url(oss) + "/license/report") == (
            404,
            {"message": "Not found"},
        )


# --- the window ----------------------------------------------------------------------------------


def corner_rows() -> kong.Datastore:
    rows = seed.fidelity_seed(now=NOW.date()).usage
    return kong.Datastore(
        license_data=tuple((u.node_id, u.year, u.month, u.requests) for u in rows)
    )


#: By hand from should_report_bucket and the labels, for fidelity_seed at 2026-11.
WINDOW_3_5 = {"2026-11": 1000, "2026-10": 500, "2027-01": 70, "UNKNOWN": 11 + 13 + 17}
WINDOW_2_X = WINDOW_3_5 | {"2025-10": 300, "UNKNOWN": 11 + 13 + 17 + 19}


async def test_the_window_rule_on_every_corner(session: aiohttp.ClientSession) -> None:
    cluster = corner_rows()
    v28, v35 = await bodies(
        session,
        node("a", version="2.8.4.1", datastore=cluster),
        node("b", version="3.5.0.2", datastore=cluster),
    )
    assert isinstance(v28["counters"], list)
    assert {c["bucket"]: c["request_count"] for c in v28["counters"]} == WINDOW_2_X
    counters = v35["counters"]
    assert isinstance(counters, dict)
    assert {c["bucket"]: c["request_count"] for c in counters["buckets"]} == WINDOW_3_5
    assert counters["total_requests"] == sum(WINDOW_3_5.values())


async def test_the_window_rule_on_a_real_postgresql(
    session: aiohttp.ClientSession, seeded: datastores.Seeder
) -> None:
    settings = seeded(seed.fidelity_seed(now=NOW.date()))
    store = kong.PostgresStore(datastores.dsn(settings))
    v28, v35, v38, v39 = await bodies(
        session,
        node("a", version="2.8.4.1", datastore=store),
        node("b", version="3.5.0.2", datastore=store),
        node("c", version="3.8.1.0", datastore=store, role="control_plane"),
        node("d", version="3.9.1.1", datastore=store),
    )
    assert isinstance(v28["counters"], list)
    assert {c["bucket"]: c["request_count"] for c in v28["counters"]} == WINDOW_2_X
    counters = v35["counters"]
    assert isinstance(counters, dict)
    assert {c["bucket"]: c["request_count"] for c in counters["buckets"]} == WINDOW_3_5
    # 5 proxy consumers (2 admins, 1 developer, 1 application left out); every RBAC user.
    for body in (v35, v39):
        assert (body["consumers_count"], body["rbac_users"]) == (5, 5)
        assert (body["services_count"], body["routes_count"], body["workspaces_count"]) == (6, 4, 3)
    assert v38["deployment_info"] == {"type": "hybrid", "connected_dp_count": 2}
    with psycopg.connect(datastores.dsn(settings)) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    number = int(row[0])  # >= 10: major.minor (connector.lua:306-324)
    assert v28["db_version"] == f"postgres {number // 10000}.{number % 100}"


# --- counting: traditional, DB-less, hybrid ------------------------------------------------------


async def test_traditional_nodes_report_what_they_proxied(session: aiohttp.ClientSession) -> None:
    cluster = kong.Datastore()
    first, second = node("a", datastore=cluster), node("b", datastore=cluster)
    dbless = node("c", mode=kong.Mode.EE_DBLESS)
    first.proxy(30)
    second.proxy(12)
    dbless.proxy(99)
    for each in (first, second, dbless):
        await each.flush()
    one, two, off = await bodies(session, first, second, dbless)
    assert one["counters"] == two["counters"] == [{"bucket": "2026-11", "request_count": 42}]
    assert "counters" not in off
    assert {**first.proxied} == {"2026-11": 30}
    assert dbless.proxied == {"2026-11": 99}


async def test_hybrid_control_plane_holds_only_telemetry_data_planes_counts(
    session: aiohttp.ClientSession,
) -> None:
    cluster = kong.Datastore(data_planes=3, expired_data_planes=2)
    # The CP's clock runs two months ahead: rows get the CP's month at ingest.
    control = node(
        "cp", version="3.8.1.0", role="control_plane", datastore=cluster,
        clock_skew=datetime.timedelta(days=62),
    )  # fmt: skip
    dbless = {"mode": kong.Mode.EE_DBLESS, "role": "data_plane", "version": "3.8.1.0"}
    sending = node("dp-1", **dbless, control_plane=control, telemetry_endpoint="cp:8006")
    default = node("dp-2", **dbless, control_plane=control)  # 127.0.0.1:8006: reaches nothing
    explicit_off = node("dp-3", **dbless, control_plane=control, telemetry_endpoint="NONE")
    konnect = node("dp-4", mode=kong.Mode.EE_DBLESS, konnect=True)
    for count, plane in enumerate((sending, default, explicit_off, konnect), start=1):
        plane.proxy(100 * count)
    with pytest.raises(ValueError, match="no proxy server"):
        control.proxy(1)
    async with kong.Fleet([control, sending, default, explicit_off, konnect]) as fleet:
        await fleet.flush()
        status, report = await get(session, fleet.url(control) + "/license/report")
        for plane in (sending, konnect):  # data planes serve no Admin API: nothing listens
            with pytest.raises(aiohttp.ClientConnectorError):
                await get(session, fleet.url(plane) + "/")
    assert status == 200
    assert isinstance(report, dict)
    assert report["counters"] == {
        "total_requests": 100,
        "buckets": [{"bucket": "2027-01", "request_count": 100}],
    }
    assert report["deployment_info"] == {"type": "hybrid", "connected_dp_count": 3}
    assert cluster.rows == {(sending.node_id, 2027, 1): 100}
    assert (sending.sent, default.lost, explicit_off.sent, explicit_off.lost) == (100, 200, 0, 0)
    assert [p.proxied for p in (sending, default, explicit_off)] == [
        {"2026-11": 100}, {"2026-11": 200}, {"2026-11": 300},
    ]  # fmt: skip


@pytest.mark.parametrize(("version", "counted"), [("3.5.0.2", True), ("3.6.0.0", False)])
async def test_a_control_plane_with_telemetry_none_keeps_no_counters_from_3_6(
    session: aiohttp.ClientSession, version: str, counted: bool
) -> None:
    cluster = kong.Datastore(counters={"2026-11": 5})
    control = node(
        role="control_plane", version=version, datastore=cluster, telemetry_endpoint="NONE"
    )
    [body] = await bodies(session, control)
    assert ("counters" in body) == counted


@pytest.mark.parametrize(("version", "counted"), [("3.6.1.0", 3), ("3.7.0.0", 2)])
async def test_healthz_routes_are_not_counted_from_3_7(
    session: aiohttp.ClientSession, version: str, counted: int
) -> None:
    cluster = kong.Datastore()
    gateway = node(version=version, datastore=cluster, healthz_ids=frozenset({"health-route"}))
    gateway.proxy(2)
    gateway.proxy(1, route_id="health-route")
    await gateway.flush()
    [body] = await bodies(session, gateway)
    counters = body["counters"]
    assert isinstance(counters, dict)
    assert counters["total_requests"] == counted
    assert gateway.proxied == {"2026-11": 3}


async def test_an_idle_node_still_writes_a_zero_row(session: aiohttp.ClientSession) -> None:
    cluster = kong.Datastore()
    idle = node(datastore=cluster)
    await idle.flush()
    [body] = await bodies(session, idle)
    assert body["counters"] == [{"bucket": "2026-11", "request_count": 0}]


# --- lists and errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "carried"), [("2.8.4.1", ""), ("3.4.3.12", "&size=2")])
async def test_next_carries_size_from_3_1(
    session: aiohttp.ClientSession, version: str, carried: str
) -> None:
    gateway = node(version=version, datastore=kong.Datastore(services=5))
    [page] = await bodies(session, gateway, path="/services?size=2")
    next_page = page["next"]
    assert isinstance(next_page, str)
    assert next_page.startswith("/services?offset=")
    assert next_page.endswith(carried)
    assert next_page.count("size") == bool(carried)


async def test_consumers_lists_proxy_consumers_only(session: aiohttp.ClientSession) -> None:
    cluster = kong.Datastore(consumers=3, admins=2, developers=1, applications=1)
    gateway = node(datastore=cluster)
    async with kong.Fleet([gateway]) as fleet:
        _, page = await get(session, fleet.url(gateway) + "/consumers")
        refused = await get(session, fleet.url(gateway) + "/consumers?type=2")
    assert isinstance(page, dict)
    assert len(page["data"]) == 3
    assert refused == (400, {"message": "Invalid parameter: 'type'"})


async def test_rbac_users_drops_admins_and_developers_after_paging(
    session: aiohttp.ClientSession,
) -> None:
    cluster = kong.Datastore(rbac_users=1, admins=5, developers=4)
    gateway = node(datastore=cluster)
    shown, sizes = [], []
    url: str | None = "/rbac/users?size=2"
    async with kong.Fleet([gateway]) as fleet:
        while url:
            _, page = await get(session, fleet.url(gateway) + url)
            assert isinstance(page, dict)
            assert isinstance(page["data"], list)
            shown += page["data"]
            sizes.append(len(page["data"]))
            next_page = page["next"]
            assert next_page is None or isinstance(next_page, str)
            assert next_page is None or "size" not in next_page  # its own handler: no size
            url = next_page and next_page + "&size=2"
    assert len(shown) == 1
    assert len(sizes) == 5  # 10 rows, 2 a page: empty pages that still have a next
    assert sorted(sizes) == [0, 0, 0, 0, 1]


async def test_rbac_errors_depend_on_admin_gui_auth(session: aiohttp.ClientSession) -> None:
    plain = node("a", mode=kong.Mode.EE_DBLESS, token="t0k3n")
    gui = node("b", mode=kong.Mode.EE_DBLESS, token="t0k3n", admin_gui_auth=True)
    async with kong.Fleet([plain, gui]) as fleet:
        assert await get(session, fleet.url(plain) + "/license/report") == (
            401,
            {"message": "Invalid RBAC credentials"},
        )
        assert await get(session, fleet.url(gui) + "/license/report") == (
            401,
            {"message": "Invalid credentials. Token or User credentials required"},
        )
        status, _ = await get(session, fleet.url(plain) + "/", **{"Kong-Admin-Token": "t0k3n"})
        assert status == 200


# --- the checksum ---------------------------------------------------------------------------------


async def test_the_report_checksum_is_what_real_inspect_lua_computes(
    session: aiohttp.ClientSession,
) -> None:
    luajit = lua.find_luajit()  # a short child, before any fleet starts
    cluster = corner_rows()
    [body] = await bodies(session, node(version="3.8.1.0", datastore=cluster, license_key="K"))
    checksum = body.pop("checksum")
    # As decoded, nulls kept: a null in the body is not what Kong's table would hold.
    text = lua.inspect(luajit, body, strip_nulls=False)  # a short child; the fleet has stopped
    assert checksum == hashlib.sha1(text, usedforsecurity=False).hexdigest()
