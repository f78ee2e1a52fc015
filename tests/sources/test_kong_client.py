"""The Admin API client against simulated Kong nodes: every fault is a named failure."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest
import trustme

from license_report.api import errors
from license_report.report import aggregation, models
from license_report.sources import entities, kong
from license_report_sandbox import kong as sim
from license_report_sandbox import seed
from tests.expected import NOW, plugin_figures
from tests.helpers.fleets import FleetFactory, targets

Reason = errors.Reason


async def _ask(
    fleet: FleetFactory,
    nodes: list[sim.SimNode],
    settings: kong.ClientSettings | None = None,
    **fleet_options: object,
) -> tuple[list[aggregation.NodeObservation], list[models.Failure]]:
    settings = settings or kong.ClientSettings(timeout=1.0)
    async with fleet(nodes, **fleet_options) as running, kong.new_session(settings) as session:
        return await kong.fetch_nodes(session=session, targets=targets(running), settings=settings)


async def test_enterprise_dbless_nodes_answer_without_counters(fleet: FleetFactory) -> None:
    # Kong's strategy is off with database = off: /license/report has no counters key,
    # and a 3.4 GET / has no edition. The node is read, not a bad response.
    nodes = [
        sim.SimNode(name=f"gw-{i}", mode=sim.Mode.EE_DBLESS, counters={"2026-11": 10 * i}, cores=2)
        for i in range(1, 4)
    ]
    observations, failures = await _ask(fleet, nodes)
    assert failures == []
    by_name = {obs.target.name: obs for obs in observations}
    assert set(by_name) == {"gw-1", "gw-2", "gw-3"}
    report = by_name["gw-2"].license_report
    assert report is not None
    assert report.counters is None
    assert by_name["gw-2"].info.edition is None
    assert by_name["gw-2"].enterprise
    assert not by_name["gw-2"].keeps_counters
    assert by_name["gw-2"].dbless
    assert by_name["gw-2"].status.configuration_hash


async def test_kong_3_6_says_its_edition(fleet: FleetFactory) -> None:
    shared = sim.Datastore(counters={"2026-11": 4})
    nodes = [sim.SimNode(name="n", mode=sim.Mode.EE_DB, version="3.6.1.0", datastore=shared)]
    (obs,), _ = await _ask(fleet, nodes)
    assert obs.info.edition == "enterprise"
    assert obs.license_report is not None
    assert [(c.bucket, c.request_count) for c in obs.license_report.counters or []] == [
        ("2026-11", 4)
    ]


async def test_oss_answers_404_on_license_report(fleet: FleetFactory) -> None:
    observations, failures = await _ask(
        fleet, [sim.SimNode(name="oss", mode=sim.Mode.OSS_DB, datastore=sim.Datastore(counters={}))]
    )
    assert failures == []
    assert observations[0].license_report is None
    assert observations[0].info.edition == "community"


@pytest.mark.parametrize(
    ("fault", "reason", "words"),
    [
        (sim.Fault(latency=2.0), Reason.TIMEOUT, "no answer within 1s"),
        (sim.Fault(hang=True), Reason.TIMEOUT, "no answer"),
        (sim.Fault(status=500), Reason.HTTP_ERROR, "HTTP 500: An unexpected error occurred"),
        (sim.Fault(status=503), Reason.HTTP_ERROR, "HTTP 503"),
        (sim.Fault(garbage=True), Reason.BAD_RESPONSE, "not JSON"),
        (sim.Fault(truncated=True), Reason.BAD_RESPONSE, "not JSON"),
        (sim.Fault(wrong_shape=True), Reason.BAD_RESPONSE, "unexpected shape"),
        (sim.Fault(reset=True), Reason.CONNECTION_ERROR, "connection lost"),
        (sim.Fault(huge_body_bytes=50 * 1024 * 1024), Reason.BODY_TOO_LARGE, "exceeds"),
        (sim.Fault(redirect_loop=True), Reason.HTTP_ERROR, "not followed"),
        (
            sim.Fault(status=500, paths=frozenset({"/license/report"})),
            Reason.HTTP_ERROR,
            "GET /license/report",
        ),
    ],
)
async def test_each_fault_is_a_named_failure_and_the_others_are_counted(
    fleet: FleetFactory, fault: sim.Fault, reason: errors.Reason, words: str
) -> None:
    nodes = [
        sim.SimNode(name="good", mode=sim.Mode.EE_DBLESS, counters={"2026-11": 1}),
        sim.SimNode(name="bad", mode=sim.Mode.EE_DBLESS, counters={"2026-11": 1}, fault=fault),
    ]
    observations, failures = await _ask(fleet, nodes)
    assert [obs.target.name for obs in observations] == ["good"]
    assert [(f.pod, f.reason) for f in failures] == [("bad", reason)]
    assert words in failures[0].message


async def test_a_failed_request_cancels_the_node_s_other_requests(fleet: FleetFactory) -> None:
    # /status fails at once (no token); / and /license/report would hang for the whole timeout.
    node = sim.SimNode(
        name="gw",
        mode=sim.Mode.EE_DBLESS,
        token="t0k3n",
        fault=sim.Fault(hang=True, paths=frozenset({"/", "/license/report"})),
    )
    settings = kong.ClientSettings(timeout=60.0)
    async with fleet([node]) as running, kong.new_session(settings) as session:
        async with asyncio.timeout(10):  # cancelled, not waited for until their timeout
            observations, failures = await kong.fetch_nodes(
                session=session, targets=targets(running), settings=settings
            )
        assert observations == []
        assert [f.reason for f in failures] == [Reason.UNAUTHORIZED]
        requests = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__name__", "") in {"_get", "_get_or_none"}
        ]
        assert requests == []


async def test_refused_connection(fleet: FleetFactory) -> None:
    nodes = [
        sim.SimNode(name="up", mode=sim.Mode.OSS_DBLESS),
        sim.SimNode(name="down", mode=sim.Mode.OSS_DBLESS, refuse=True),
    ]
    observations, failures = await _ask(fleet, nodes)
    assert [obs.target.name for obs in observations] == ["up"]
    assert [(f.pod, f.reason) for f in failures] == [("down", Reason.CONNECTION_REFUSED)]


async def test_a_month_13_bucket_is_read_as_kong_writes_it(fleet: FleetFactory) -> None:
    # Kong checks no month range: a month-13 row is "%04d-%02d", 2026-13.
    shared = sim.Datastore(license_data=(("11111111-1111-4111-8111-111111111111", 2026, 13, 5),))
    nodes = [sim.SimNode(name="odd", mode=sim.Mode.EE_DB, datastore=shared)]
    (obs,), failures = await _ask(fleet, nodes)
    assert failures == []
    assert obs.license_report is not None
    assert [c.bucket for c in obs.license_report.counters or []] == ["2026-13"]


async def test_token_is_sent_and_a_missing_one_is_unauthorized(fleet: FleetFactory) -> None:
    nodes = [sim.SimNode(name="rbac", mode=sim.Mode.EE_DBLESS, token="t0k3n")]
    _, failures = await _ask(fleet, nodes)
    assert [f.reason for f in failures] == [Reason.UNAUTHORIZED]
    # Kong's message without admin_gui_auth (kong/rbac/init.lua:1648-1650).
    assert "HTTP 401: Invalid RBAC credentials" in failures[0].message
    with_token = kong.ClientSettings(token="t0k3n", allow_token_over_http=True, timeout=1.0)
    observations, failures = await _ask(fleet, nodes, with_token)
    assert failures == []
    assert len(observations) == 1
    wrong = kong.ClientSettings(token="wrong", allow_token_over_http=True, timeout=1.0)
    _, failures = await _ask(fleet, nodes, wrong)
    assert failures[0].reason is Reason.UNAUTHORIZED
    assert "wrong" not in failures[0].message


def test_token_over_plain_http_is_refused_before_any_request() -> None:
    target = models.Target(name="gw", url="http://127.0.0.2:8001")
    with pytest.raises(kong.ConfigError, match="plain http"):
        kong.check_settings(settings=kong.ClientSettings(token="t"), targets=[target])
    kong.check_settings(
        settings=kong.ClientSettings(token="t"),
        targets=[target.model_copy(update={"url": "https://x"})],
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.2", "127.0.0.3", "kong-admin.kong.svc").configure_cert(context)
    return context


async def test_tls_verification_is_on_by_default(fleet: FleetFactory, ca: trustme.CA) -> None:
    nodes = [sim.SimNode(name="tls", mode=sim.Mode.OSS_DBLESS)]
    _, failures = await _ask(
        fleet, nodes, kong.ClientSettings(timeout=1.0), ssl_context=_server_context(ca)
    )
    assert [f.reason for f in failures] == [Reason.TLS_ERROR]


async def test_tls_with_the_right_ca_works_and_a_wrong_ca_fails(
    fleet: FleetFactory, ca: trustme.CA
) -> None:
    nodes = [sim.SimNode(name="tls", mode=sim.Mode.OSS_DBLESS)]
    right = kong.ClientSettings(
        timeout=1.0, tls=kong.tls_context(ca_pem=ca.cert_pem.bytes().decode())
    )
    observations, failures = await _ask(fleet, nodes, right, ssl_context=_server_context(ca))
    assert (len(observations), failures) == (1, [])
    wrong = kong.ClientSettings(
        timeout=1.0, tls=kong.tls_context(ca_pem=trustme.CA().cert_pem.bytes().decode())
    )
    _, failures = await _ask(fleet, nodes, wrong, ssl_context=_server_context(ca))
    assert [f.reason for f in failures] == [Reason.TLS_ERROR]
    insecure = kong.ClientSettings(timeout=1.0, tls=kong.tls_context(insecure=True))
    observations, _ = await _ask(fleet, nodes, insecure, ssl_context=_server_context(ca))
    assert len(observations) == 1


async def test_server_name_is_verified_instead_of_the_pod_ip(
    fleet: FleetFactory, ca: trustme.CA
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kong-admin.kong.svc").configure_cert(context)  # no IP in the certificate
    nodes = [sim.SimNode(name="tls", mode=sim.Mode.OSS_DBLESS)]
    tls = kong.tls_context(ca_pem=ca.cert_pem.bytes().decode())
    _, failures = await _ask(
        fleet, nodes, kong.ClientSettings(timeout=1.0, tls=tls), ssl_context=context
    )
    assert [f.reason for f in failures] == [Reason.TLS_ERROR]
    named = kong.ClientSettings(timeout=1.0, tls=tls, server_name="kong-admin.kong.svc")
    observations, _ = await _ask(fleet, nodes, named, ssl_context=context)
    assert len(observations) == 1


def test_a_ca_that_does_not_parse_is_a_config_error() -> None:
    with pytest.raises(kong.ConfigError, match="not valid PEM"):
        kong.tls_context(ca_pem="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


async def test_paging_over_2500_services_follows_next(fleet: FleetFactory) -> None:
    node = sim.SimNode(
        name="big", mode=sim.Mode.EE_DBLESS, services=2500, routes=1001, consumers=3, rbac_users=2
    )
    async with fleet([node]) as running, kong.new_session(kong.ClientSettings()) as session:
        counts = await entities.count_entities(
            session=session, base_url=running.url(node), settings=kong.ClientSettings()
        )
    assert counts == models.EntityCounts(
        services=2500, routes=1001, consumers=3, workspaces=1, rbac_users=2
    )
    assert node.requests_seen.count("/services") == 3  # 1000 + 1000 + 500


async def test_counting_on_oss_uses_one_workspace_and_no_rbac(fleet: FleetFactory) -> None:
    node = sim.SimNode(name="oss", mode=sim.Mode.OSS_DBLESS, services=7, routes=2)
    async with fleet([node]) as running, kong.new_session(kong.ClientSettings()) as session:
        counts = await entities.count_entities(
            session=session, base_url=running.url(node), settings=kong.ClientSettings()
        )
    assert counts == models.EntityCounts(
        services=7, routes=2, consumers=0, workspaces=1, rbac_users=0
    )


async def test_plugins_are_counted_as_kong_3_5_counts_them(fleet: FleetFactory) -> None:
    # A DB-less node configured as the sample seed: same routes, services first, plugins.
    definition = seed.sample_seed(now=NOW.date())
    node = sim.SimNode(
        name="gw", mode=sim.Mode.EE_DBLESS, services=definition.services,
        routes=definition.routes, serviceless_routes=definition.serviceless_routes,
        consumers=definition.consumers, plugins=seed.sim_plugins(definition),
    )  # fmt: skip
    settings = kong.ClientSettings(page_size=4)  # plugins and routes over several pages
    async with fleet([node]) as running, kong.new_session(settings) as session:
        counts = await entities.count_entities(
            session=session, base_url=running.url(node), settings=settings
        )
    by_name, lambdas, kafkas = plugin_figures(definition)
    assert counts.plugins == models.PluginUsage(
        by_name=by_name, unique_route_lambdas=lambdas, unique_route_kafkas=kafkas
    )
    assert counts.routes == definition.routes
    assert counts.data_planes is None  # not a control plane: not asked
    assert "/clustering/data-planes" not in node.requests_seen
    assert node.requests_seen.count("/plugins") == 4  # 14 plugins, 4 a page


async def test_a_control_plane_counts_its_data_planes(fleet: FleetFactory) -> None:
    cluster = sim.Datastore(data_planes=1234)
    node = sim.SimNode(name="cp", mode=sim.Mode.EE_DB, role="control_plane", datastore=cluster)
    async with fleet([node]) as running, kong.new_session(kong.ClientSettings()) as session:
        counts = await entities.count_entities(
            session=session,
            base_url=running.url(node),
            settings=kong.ClientSettings(),
            data_planes=True,
        )
    assert counts.data_planes == 1234


async def test_concurrency_is_bounded(fleet: FleetFactory) -> None:
    # 12 nodes answering after 0.2 s, at most 4 at once: at least 3 waves.
    # (A lower bound: bounded concurrency cannot be faster than this.)
    nodes = [
        sim.SimNode(name=f"n{i}", mode=sim.Mode.OSS_DBLESS, fault=sim.Fault(latency=0.2))
        for i in range(12)
    ]
    settings = kong.ClientSettings(max_concurrency=4, timeout=2.0)
    started = time.monotonic()
    observations, _ = await _ask(fleet, nodes, settings)
    assert len(observations) == 12
    assert time.monotonic() - started >= 0.6


def test_a_target_url_must_be_http_with_a_host() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        models.Target(name="x", url="not a url")
    with pytest.raises(ValueError, match="http:// or https://"):
        models.Target(name="x", url="ftp://host")
