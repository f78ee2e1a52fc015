"""The Kong simulator answers in Kong's shapes, fails the ways real nodes fail, and scales."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
import time

import aiohttp
import pydantic
import pytest
import trustme
from multidict import CIMultiDictProxy

from license_report.report import admin_api
from license_report_sandbox import kong

JSON_TYPE = "application/json; charset=utf-8"


async def fetch(
    session: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None
) -> tuple[int, object, CIMultiDictProxy[str]]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.json(), response.headers


def datastore_for(mode: kong.Mode) -> kong.Datastore | None:
    if mode.dbless:
        return None
    return kong.Datastore(counters={"2026-10": 7, "UNKNOWN": 2}, services=3, rbac_users=1)


# --- shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(kong.Mode))
async def test_bodies_validate_against_the_collector_models(
    session: aiohttp.ClientSession, mode: kong.Mode
) -> None:
    node = kong.SimNode(
        name="kong-0",
        mode=mode,
        datastore=datastore_for(mode),
        counters={"2026-11": 5},
        services=2,
        total_requests=42,
        license_key="KEY-1",
    )
    async with kong.Fleet([node]) as fleet:
        base = fleet.url(node)
        _, body, headers = await fetch(session, base + "/")
        info = admin_api.NodeInfo.model_validate(body)
        assert headers["Content-Type"] == JSON_TYPE
        # _SERVER_TOKENS is _VERSION, which keeps -enterprise-edition in 3.x Enterprise.
        suffix = "-enterprise-edition" if mode.enterprise else ""
        assert headers["Server"] == f"kong/{node.version}{suffix}"
        # Enterprise 3.4 has no `edition` (3.6+; OSS 3.9.1 has it); a licensed Enterprise
        # node shows its `license`.
        assert isinstance(body, dict)
        assert body.get("edition") == (None if mode.enterprise else "community")
        assert ("license" in body) == mode.enterprise
        assert info.configuration.database == ("off" if mode.dbless else "postgres")
        assert (info.node_id, info.hostname) == (node.node_id, "kong-0")

        _, body, _ = await fetch(session, base + "/status")
        status = admin_api.NodeStatus.model_validate(body)
        # 42 served before, then `/` and this request itself: nginx counts a request before
        # any handler runs (kong-research-metering.md §2).
        assert status.server.total_requests == 44
        if mode.dbless:
            assert status.database is None
            assert status.configuration_hash is not None
            assert len(status.configuration_hash) == 32
        else:
            assert status.database is not None
            assert status.database.reachable
            assert status.configuration_hash is None

        _, body, _ = await fetch(session, base + "/services")
        page = admin_api.Page.model_validate(body)
        assert len(page.data) == (2 if mode.dbless else 3)
        assert page.next is None
        assert page.offset is None

        if mode.enterprise:
            _, body, _ = await fetch(session, base + "/license/report")
            assert isinstance(body, dict)
            # 3.4: the 2.x shape. DB-less: the `off` strategy (no counters key, "off nil",
            # no workspace_entity_counters rows so no count keys); DB mode: the node's
            # history was flushed into the datastore beside the rows already there.
            if mode.dbless:
                assert "counters" not in body
                assert "services_count" not in body
                assert body["db_version"] == "off nil"
            else:
                counters = {c["bucket"]: c["request_count"] for c in body["counters"]}
                assert counters == {"2026-10": 7, "UNKNOWN": 2, "2026-11": 5}
                assert body["services_count"] == 3
                assert body["db_version"] == "postgres 15.4"
            assert body["kong_version"] == node.version == "3.4.3.12"
            assert body["license_key"] == "KEY-1"
            assert body["system_info"] == {"cores": 4, "uname": "Linux x86_64"}


@pytest.mark.parametrize("mode", [kong.Mode.OSS_DB, kong.Mode.OSS_DBLESS])
@pytest.mark.parametrize("path", ["/license/report", "/workspaces", "/rbac/users", "/x/services"])
async def test_oss_answers_not_found_where_kong_oss_has_no_endpoint(
    session: aiohttp.ClientSession, mode: kong.Mode, path: str
) -> None:
    node = kong.SimNode(name="oss", mode=mode, datastore=datastore_for(mode))
    async with kong.Fleet([node]) as fleet:
        status, body, headers = await fetch(session, fleet.url(node) + path)
    assert (status, body) == (404, {"message": "Not found"})
    assert headers["Content-Type"] == JSON_TYPE
    assert headers["Server"] == "kong/3.9.1"


async def test_unknown_paths_and_methods_get_kong_errors(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS)
    async with kong.Fleet([node]) as fleet:
        status, body, headers = await fetch(session, fleet.url(node) + "/nope")
        assert (status, body) == (404, {"message": "Not found"})
        assert headers["Server"] == "kong/3.4.3.12-enterprise-edition"
        async with session.post(fleet.url(node) + "/services", json={"name": "x"}) as response:
            assert response.status == 405
            assert await response.json() == {"message": "Method not allowed"}
    assert node.requests_seen == ["/nope", "/services"]


async def test_buckets_come_in_row_order_not_sorted(session: aiohttp.ClientSession) -> None:
    """Kong iterates a Lua table with pairs(): no order; the simulator keeps the rows' order."""
    counters = {"UNKNOWN": 1, "2026-10": 2, "2025-01": 3}
    node = kong.SimNode(
        name="ee", mode=kong.Mode.EE_DB, datastore=kong.Datastore(counters=counters)
    )
    async with kong.Fleet([node]) as fleet:
        _, body, _ = await fetch(session, fleet.url(node) + "/license/report")
    report = admin_api.NodeLicenseReport.model_validate(body)
    assert [c.bucket for c in report.counters or []] == ["UNKNOWN", "2026-10", "2025-01"]
    assert report.license_key == "UNLICENSED"


# --- where the figures come from -----------------------------------------------------------


async def test_db_nodes_all_report_the_shared_cluster_figures(
    session: aiohttp.ClientSession,
) -> None:
    datastore = kong.Datastore(counters={"2026-10": 1000}, services=12, workspaces=3)
    nodes = [
        kong.SimNode(name=f"kong-{i}", mode=kong.Mode.EE_DB, datastore=datastore, cores=2 + i)
        for i in range(3)
    ]
    async with kong.Fleet(nodes) as fleet:
        reports = []
        for node in nodes:
            _, body, _ = await fetch(session, fleet.url(node) + "/license/report")
            reports.append(admin_api.NodeLicenseReport.model_validate(body))
        datastore.upsert(node_id=nodes[0].node_id, year=2026, month=11, requests=5)
        _, body, _ = await fetch(session, fleet.url(nodes[2]) + "/license/report")
        later = admin_api.NodeLicenseReport.model_validate(body)

    for report in reports:
        assert [(c.bucket, c.request_count) for c in report.counters or []] == [("2026-10", 1000)]
        assert (report.services_count, report.workspaces_count) == (12, 3)
    # Only what is truly per node differs.
    assert [r.system_info.cores for r in reports if r.system_info] == [2, 3, 4]
    assert [c.bucket for c in later.counters or []] == ["2026-10", "2026-11"]


async def test_dbless_nodes_keep_no_counters_but_serve_their_own_config(
    session: aiohttp.ClientSession,
) -> None:
    nodes = [
        kong.SimNode(
            name=f"kong-{i}", mode=kong.Mode.EE_DBLESS, counters={"2026-10": 10 * i}, services=i
        )
        for i in range(1, 3)
    ]
    async with kong.Fleet(nodes) as fleet:
        seen = []
        for node in nodes:
            _, body, _ = await fetch(session, fleet.url(node) + "/license/report")
            _, page, _ = await fetch(session, fleet.url(node) + "/services")
            assert isinstance(body, dict)
            assert "counters" not in body
            seen.append(len(admin_api.Page.model_validate(page).data))
    assert seen == [1, 2]
    # What they proxied is known to the test, not to Kong.
    assert [node.proxied for node in nodes] == [{"2026-10": 10}, {"2026-10": 20}]


# --- paged lists ---------------------------------------------------------------------------


async def test_paging_2500_services_at_size_1000_takes_three_pages(
    session: aiohttp.ClientSession,
) -> None:
    datastore = kong.Datastore(services=2500)
    node = kong.SimNode(name="kong-0", mode=kong.Mode.EE_DB, datastore=datastore)
    async with kong.Fleet([node]) as fleet:
        pages: list[admin_api.Page] = []
        next_path: str | None = "/services?size=1000"
        while next_path is not None:
            _, body, _ = await fetch(session, fleet.url(node) + next_path)
            pages.append(admin_api.Page.model_validate(body))
            next_path = pages[-1].next
    assert [len(page.data) for page in pages] == [1000, 1000, 500]
    assert all(page.next is not None and "size=1000" in page.next for page in pages[:2])
    assert pages[-1].offset is None
    ids = {entity["id"] for page in pages for entity in page.data if isinstance(entity, dict)}
    assert len(ids) == 2500


async def test_paging_defaults_limits_and_workspaces(session: aiohttp.ClientSession) -> None:
    cluster = kong.Datastore(services=250, routes=3, workspaces=3, rbac_users=2)
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DB, datastore=cluster)
    async with kong.Fleet([node]) as fleet:
        base = fleet.url(node)
        _, body, _ = await fetch(session, base + "/services")
        first = admin_api.Page.model_validate(body)
        assert len(first.data) == 100
        assert first.next is not None
        assert first.offset is not None
        assert "size=" not in first.next  # Kong carries size over only when it was given

        for size, message in [
            ("1001", "size must be an integer between 1 and 1000"),
            ("0", "size must be an integer between 1 and 1000"),
            ("2.5", "size must be an integer between 1 and 1000"),
            ("many", "size must be a number"),
        ]:
            status, body, _ = await fetch(session, f"{base}/services?size={size}")
            assert (status, body) == (400, {"code": 9, "name": "invalid size", "message": message})

        status, body, _ = await fetch(session, base + "/services?offset=%21%21")
        assert status == 400
        assert body == {
            "code": 7,
            "name": "invalid offset",
            "message": "'!!' is not a valid offset: bad base64 encoding",
        }
        _, body, _ = await fetch(session, base + "/routes?size=1")
        routes_offset = admin_api.Page.model_validate(body).offset
        status, _, _ = await fetch(session, f"{base}/services?offset={routes_offset}")
        assert status == 400  # an offset belongs to its list

        _, plain, _ = await fetch(session, base + "/services?size=1000")
        _, prefixed, _ = await fetch(session, base + "/workspace-2/services?size=1000")
        assert plain == prefixed
        status, _, _ = await fetch(session, base + "/workspace-3/services")
        assert status == 404

        _, body, _ = await fetch(session, base + "/workspaces")
        names = [w["name"] for w in admin_api.Page.model_validate(body).data if isinstance(w, dict)]
        assert names == ["default", "workspace-1", "workspace-2"]
        _, body, _ = await fetch(session, base + "/default/rbac/users")
        assert len(admin_api.Page.model_validate(body).data) == 2


async def test_plugins_and_routes_list_their_scopes(session: aiohttp.ClientSession) -> None:
    plugins = (
        kong.SimPlugin("cors"),
        kong.SimPlugin("aws-lambda", route=2, config={"function_name": "f"}),
        kong.SimPlugin("key-auth", service=0, consumer=1, consumer_group="cg-1"),
    )
    node = kong.SimNode(
        name="ee", mode=kong.Mode.EE_DBLESS, services=2, routes=3, serviceless_routes=1,
        consumers=2, plugins=plugins,
    )  # fmt: skip
    async with kong.Fleet([node]) as fleet:
        _, body, _ = await fetch(session, fleet.url(node) + "/routes")
        routes = [
            admin_api.Route.model_validate(r) for r in admin_api.Page.model_validate(body).data
        ]
        _, body, _ = await fetch(session, fleet.url(node) + "/plugins?size=2")
        first = admin_api.Page.model_validate(body)
        assert first.next is not None
        _, body, _ = await fetch(session, fleet.url(node) + first.next)
        listed = [
            admin_api.Plugin.model_validate(p)
            for p in [*first.data, *admin_api.Page.model_validate(body).data]
        ]
    assert [route.service is None for route in routes] == [False, False, True]
    assert [p.name for p in listed] == ["cors", "aws-lambda", "key-auth"]
    assert listed[0].route is listed[0].service is listed[0].consumer is None
    assert listed[1].route is not None
    assert listed[1].route.id == routes[2].id
    assert listed[1].config == {"function_name": "f"}
    assert listed[2].consumer_group is not None
    assert listed[2].consumer_group.id == "cg-1"


async def test_data_planes_are_listed_by_a_control_plane_only(
    session: aiohttp.ClientSession,
) -> None:
    cluster = kong.Datastore(data_planes=3)
    control = kong.SimNode(name="cp", mode=kong.Mode.EE_DB, role="control_plane", datastore=cluster)
    traditional = kong.SimNode(name="kong", mode=kong.Mode.EE_DB, datastore=cluster)
    async with kong.Fleet([control, traditional]) as fleet:
        _, body, _ = await fetch(session, fleet.url(control) + "/clustering/data-planes")
        page = admin_api.Page.model_validate(body)
        status, refused, _ = await fetch(
            session, fleet.url(traditional) + "/clustering/data-planes"
        )
        _, info, _ = await fetch(session, fleet.url(control) + "/")
    assert len(page.data) == 3
    first = page.data[0]
    assert isinstance(first, dict)
    assert {"hostname", "ip", "last_seen", "config_hash", "version"} <= set(first)
    assert status == 400
    assert refused == {
        "message": "this endpoint is only available when Kong is configured to run as "
        "Control Plane for the cluster"
    }
    assert admin_api.NodeInfo.model_validate(info).configuration.role == "control_plane"
    with pytest.raises(ValueError, match="cannot run in"):
        kong.SimNode(name="x", mode=kong.Mode.EE_DBLESS, role="control_plane")


async def test_a_3_5_node_reports_in_kong_3_5_shape(session: aiohttp.ClientSession) -> None:
    cluster = kong.Datastore(
        counters={"2026-11": 5, "UNKNOWN": 2}, routes=2, serviceless_routes=2,
        plugins=(kong.SimPlugin("aws-lambda", route=0, config={"function_name": "f"}),),
    )  # fmt: skip
    node = kong.SimNode(
        name="ee", mode=kong.Mode.EE_DB, version="3.5.0.2",
        license_key="KEY-35", datastore=cluster,
    )  # fmt: skip
    empty = kong.SimNode(
        name="empty", mode=kong.Mode.EE_DB, version="3.6.1.0", datastore=kong.Datastore()
    )
    async with kong.Fleet([node, empty]) as fleet:
        _, body, _ = await fetch(session, fleet.url(node) + "/license/report")
        _, nothing, _ = await fetch(session, fleet.url(empty) + "/license/report")
    assert isinstance(body, dict)
    assert body["kong_version"] == "3.5.0.2"
    assert body["counters"]["total_requests"] == 7
    assert body["license"] == {"license_key": "KEY-35", "license_expiration_date": "2030-01-01"}
    assert body["deployment_info"] == {"type": "traditional"}
    assert body["plugins_count"]["unique_route_lambdas"] == 1
    assert len(body["checksum"]) == 40
    report = admin_api.NodeLicenseReport.model_validate(body)
    assert {c.bucket: c.request_count for c in report.counters or []} == {
        "2026-11": 5,
        "UNKNOWN": 2,
    }
    assert (report.license_key, report.license_expiration_date) == ("KEY-35", "2030-01-01")
    # No counts and no license: Kong's encoder writes the empty buckets as {}.
    assert isinstance(nothing, dict)
    assert nothing["counters"] == {"total_requests": 0, "buckets": {}}
    assert nothing["license"]["license_expiration_date"] == "2017-7-20"
    assert admin_api.NodeLicenseReport.model_validate(nothing).counters == []


# --- authentication and TLS ----------------------------------------------------------------


async def test_token_is_required_when_set(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, token="s3cret")
    denied = (401, {"message": "Invalid RBAC credentials"})
    async with kong.Fleet([node]) as fleet:
        url = fleet.url(node) + "/"
        assert (await fetch(session, url))[:2] == denied
        assert (await fetch(session, url, headers={"Kong-Admin-Token": "nope"}))[:2] == denied
        async with session.get(url, headers={"Kong-Admin-Token": "s3cret"}) as response:
            assert response.status == 200
            text = await response.text()
    assert "s3cret" not in text
    assert json.loads(text)["configuration"]["enforce_rbac"] == "on"


def server_context(ca: trustme.CA, addresses: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*addresses).configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_tls_uses_each_fleets_own_context(
    session: aiohttp.ClientSession, ca: trustme.CA
) -> None:
    other_ca = trustme.CA()
    a_nodes = [kong.SimNode(name=f"a{i}", mode=kong.Mode.OSS_DBLESS) for i in range(2)]
    b_nodes = [kong.SimNode(name="b0", mode=kong.Mode.OSS_DBLESS)]
    a_context = server_context(ca, ["127.0.0.2", "127.0.0.3"])
    b_context = server_context(other_ca, ["127.0.0.10"])
    async with (
        kong.Fleet(a_nodes, ssl_context=a_context) as fleet_a,
        kong.Fleet(b_nodes, ssl_context=b_context, first_address="127.0.0.10") as fleet_b,
    ):
        trust_a, trust_b = client_context(ca), client_context(other_ca)
        for node in a_nodes:
            assert fleet_a.url(node).startswith("https://127.0.0.")
            async with session.get(fleet_a.url(node) + "/", ssl=trust_a) as response:
                assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(fleet_b.url("b0") + "/", ssl=trust_a)
        async with session.get(fleet_b.url("b0") + "/", ssl=trust_b) as response:
            assert response.status == 200


# --- faults --------------------------------------------------------------------------------


async def test_latency_delays_one_node_without_holding_up_others(
    session: aiohttp.ClientSession,
) -> None:
    slow = kong.SimNode(name="slow", mode=kong.Mode.OSS_DBLESS, fault=kong.Fault(latency=0.4))
    fast = kong.SimNode(name="fast", mode=kong.Mode.OSS_DBLESS)
    async with kong.Fleet([slow, fast]) as fleet:
        started = time.monotonic()

        async def timed(node: kong.SimNode) -> float:
            await fetch(session, fleet.url(node) + "/status")
            return time.monotonic() - started

        slow_time, fast_time = await asyncio.gather(timed(slow), timed(fast))
    assert slow_time >= 0.4
    assert fast_time < 0.3


async def test_hang_holds_until_the_client_gives_up(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="stuck", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(hang=True))
    async with kong.Fleet([node]) as fleet:
        with pytest.raises(TimeoutError):
            await session.get(fleet.url(node) + "/", timeout=aiohttp.ClientTimeout(total=0.2))
        # A request still hanging when the fleet stops is dropped, not waited for.
        pending = asyncio.ensure_future(session.get(fleet.url(node) + "/"))
        await asyncio.sleep(0.1)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1.0
    with pytest.raises(aiohttp.ClientError):
        await pending


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (500, "An unexpected error occurred"),
        (503, "The upstream server is currently unavailable"),
        (429, "Too many requests"),
        (418, "The upstream server responded with 418"),
    ],
)
async def test_status_fault_answers_with_kongs_error_body(
    session: aiohttp.ClientSession, code: int, message: str
) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(status=code))
    async with kong.Fleet([node]) as fleet:
        status, body, headers = await fetch(session, fleet.url(node) + "/license/report")
    assert (status, body) == (code, {"message": message})
    assert headers["Content-Type"] == JSON_TYPE


async def test_garbage_is_html(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(garbage=True))
    async with (
        kong.Fleet([node]) as fleet,
        session.get(fleet.url(node) + "/license/report") as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/html"
        with pytest.raises(aiohttp.ContentTypeError):
            await response.json()


async def test_truncated_is_json_cut_short(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(
        name="ee",
        mode=kong.Mode.EE_DB,
        fault=kong.Fault(truncated=True),
        datastore=kong.Datastore(),
    )
    async with (
        kong.Fleet([node]) as fleet,
        session.get(fleet.url(node) + "/license/report") as response,
    ):
        assert (response.status, response.content_type) == (200, "application/json")
        text = await response.text()
    assert text.startswith('{"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_wrong_shape_fails_every_model(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(wrong_shape=True))
    models: list[tuple[str, type[pydantic.BaseModel]]] = [
        ("/", admin_api.NodeInfo),
        ("/status", admin_api.NodeStatus),
        ("/license/report", admin_api.NodeLicenseReport),
        ("/services", admin_api.Page),
    ]
    async with kong.Fleet([node]) as fleet:
        for path, model in models:
            status, body, _ = await fetch(session, fleet.url(node) + path)
            assert status == 200
            with pytest.raises(pydantic.ValidationError):
                model.model_validate(body)


async def test_reset_drops_the_connection_mid_body(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(reset=True))
    async with (
        kong.Fleet([node]) as fleet,
        session.get(fleet.url(node) + "/license/report") as response,
    ):
        assert response.status == 200
        assert response.content_length is not None
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_huge_body_is_streamed_valid_json(session: aiohttp.ClientSession) -> None:
    fault = kong.Fault(huge_body_bytes=3_000_000)
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DB, fault=fault, datastore=kong.Datastore())
    async with kong.Fleet([node]) as fleet:
        url = fleet.url(node) + "/license/report"
        async with session.get(url) as response:
            assert response.headers["Transfer-Encoding"] == "chunked"
            data = await response.read()
        # A client that stops reading at its cap must not wedge the node.
        async with session.get(url) as response:
            head = await response.content.read(65536)
        assert head.startswith(b'{"padding":"xxx')
    assert len(data) >= 3_000_000
    admin_api.NodeLicenseReport.model_validate_json(data)


async def test_redirect_loop_points_at_itself(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=kong.Fault(redirect_loop=True))
    async with kong.Fleet([node]) as fleet:
        url = fleet.url(node) + "/services?size=5"
        with pytest.raises(aiohttp.TooManyRedirects):
            await session.get(url)
        async with session.get(url, allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (302, "/services?size=5")


async def test_fault_paths_limit_where_it_applies(session: aiohttp.ClientSession) -> None:
    fault = kong.Fault(status=500, latency=0.05, paths=frozenset({"/license/report"}))
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS, fault=fault)
    async with kong.Fleet([node]) as fleet:
        assert (await fetch(session, fleet.url(node) + "/"))[0] == 200
        assert (await fetch(session, fleet.url(node) + "/license/report"))[0] == 500


async def test_set_fault_at_runtime(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS)
    async with kong.Fleet([node]) as fleet:
        url = fleet.url(node) + "/status"
        assert (await fetch(session, url))[0] == 200
        fleet.set_fault("ee", kong.Fault(status=503))
        assert (await fetch(session, url))[0] == 503
        fleet.set_fault("ee", kong.Fault())
        assert (await fetch(session, url))[0] == 200


async def test_refused_node_does_not_listen(session: aiohttp.ClientSession) -> None:
    down = kong.SimNode(name="down", mode=kong.Mode.EE_DBLESS, refuse=True)
    up = kong.SimNode(name="up", mode=kong.Mode.EE_DBLESS)
    async with kong.Fleet([down, up]) as fleet:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(fleet.url(down) + "/")
        assert (await fetch(session, fleet.url(up) + "/"))[0] == 200
    assert down.requests_seen == []


async def test_set_refuse_at_runtime_stops_and_restarts_a_node() -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS)
    async with kong.Fleet([node]) as fleet, aiohttp.ClientSession() as pooled:
        url = fleet.url(node) + "/status"
        assert (await fetch(pooled, url))[0] == 200  # leaves a kept-alive connection
        await fleet.set_refuse("ee", True)
        await asyncio.sleep(0.05)
        with pytest.raises((aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError)):
            await pooled.get(url)
        with pytest.raises(aiohttp.ClientConnectorError):
            await pooled.get(url)
        await fleet.set_refuse("ee", False)
        assert (await fetch(pooled, url))[0] == 200


# --- the fleet -----------------------------------------------------------------------------


def test_addresses_are_assigned_in_order_across_the_octet() -> None:
    nodes = [
        kong.SimNode(name="a", mode=kong.Mode.OSS_DBLESS),
        kong.SimNode(name="b", mode=kong.Mode.OSS_DBLESS, address="127.0.0.255"),
        kong.SimNode(name="c", mode=kong.Mode.OSS_DBLESS),
        kong.SimNode(name="d", mode=kong.Mode.OSS_DBLESS),
    ]
    fleet = kong.Fleet(nodes, first_address="127.0.0.254")
    assert [n.address for n in nodes] == ["127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"]
    with pytest.raises(RuntimeError):
        fleet.url("a")  # no port before the fleet starts


async def test_a_fleet_can_start_again_after_stopping(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="ee", mode=kong.Mode.EE_DBLESS)
    fleet = kong.Fleet([node])
    for _ in range(2):
        async with fleet:
            assert (await fetch(session, fleet.url(node) + "/"))[0] == 200
    with pytest.raises(aiohttp.ClientConnectorError):
        await session.get(fleet.url(node) + "/")


def test_bad_fleets_are_refused_early() -> None:
    with pytest.raises(ValueError, match="datastore"):
        kong.SimNode(name="x", mode=kong.Mode.EE_DB)
    twins = [kong.SimNode(name="x", mode=kong.Mode.OSS_DBLESS) for _ in range(2)]
    with pytest.raises(ValueError, match="unique"):
        kong.Fleet(twins)


async def test_a_thousand_slow_nodes_answer_three_thousand_concurrent_requests() -> None:
    nodes = [
        kong.SimNode(
            name=f"kong-{i}",
            mode=kong.Mode.EE_DB,
            datastore=kong.Datastore(counters={"2026-10": i}),
            fault=kong.Fault(latency=0.05),
        )
        for i in range(1000)
    ]
    connector = aiohttp.TCPConnector(limit=0)
    async with kong.Fleet(nodes) as fleet, aiohttp.ClientSession(connector=connector) as client:
        assert nodes[-1].address == "127.0.3.233"

        async def ask(node: kong.SimNode, path: str) -> tuple[str, object]:
            return node.name, (await fetch(client, fleet.url(node) + path))[1]

        started = time.monotonic()
        answers = await asyncio.gather(
            *(ask(n, p) for n in nodes for p in ("/", "/status", "/license/report"))
        )
        elapsed = time.monotonic() - started
    # One after the other this would take 150 s; concurrently it is bound by the client's CPU.
    assert elapsed < 15
    for name, body in answers[::3]:
        assert admin_api.NodeInfo.model_validate(body).hostname == name
    for name, body in answers[2::3]:
        report = admin_api.NodeLicenseReport.model_validate(body)
        assert (report.counters or [])[0].request_count == int(name.removeprefix("kong-"))


# --- the runnable entry --------------------------------------------------------------------


def test_help_documents_the_demo_counters() -> None:
    assert "100+i" in kong.child.parser().format_help()


async def test_main_prints_its_fleet_and_exits_cleanly_on_sigterm(
    session: aiohttp.ClientSession,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "license_report_sandbox.kong",
        *("--count", "3", "--mode", "ee-db", "--latency", "0.01"),
        *("--bucket", "2026-10", "--first-address", "127.0.0.60"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=20))
        assert len(line["urls"]) == 3
        assert line["urls"][0] == f"http://127.0.0.60:{line['port']}"
        assert [n["name"] for n in line["nodes"]] == ["kong-0", "kong-1", "kong-2"]
        _, body, _ = await fetch(session, line["urls"][2] + "/license/report")
        report = admin_api.NodeLicenseReport.model_validate(body)
        # ee-db: every node flushed its history into one datastore; each shows it whole.
        assert {c.bucket: c.request_count for c in report.counters or []} == {
            "2026-10": 100 + 101 + 102,
            "UNKNOWN": 3,
        }
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
