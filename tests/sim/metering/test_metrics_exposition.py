"""``/metrics`` per Kong version, parsed as Prometheus parses it (kong-research-metering.md §1)."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import parser

from license_report_sandbox import kong
from license_report_sandbox.kong import status_api

SERVICELESS = kong.Route(name="no-service", service=None)


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in parser.text_string_to_metric_families(text)
    }


async def scrape(node: kong.SimNode, session: aiohttp.ClientSession) -> str:
    async with kong.Fleet([node], status_port=status_api.PORT) as fleet:
        response = await session.get(fleet.status_url(node) + "/metrics")
        async with response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            return await response.text()


def traffic(node: kong.SimNode) -> None:
    node.proxy(4)
    node.proxy(3, code=500)
    node.proxy(2, route=None, code=404)  # never in the plugin's counter
    node.proxy(1, route=SERVICELESS)  # counted from 3.6


async def test_2x_counts_without_a_flag_and_shows_requests_as_a_connection_state(
    session: aiohttp.ClientSession,
) -> None:
    node = kong.SimNode(
        name="gw", mode=kong.Mode.EE_DBLESS, version="2.8.4.1", prometheus="default"
    )
    traffic(node)
    found = families(await scrape(node, session))
    # prometheus_client strips the _total suffix of counters' family names.
    assert sorted(found) == [
        "kong_http_status",
        "kong_nginx_http_current_connections",
        "kong_nginx_metric_errors",
    ]
    assert sorted((labels["code"], value) for labels, value in found["kong_http_status"]) == [
        ("200", 4.0),
        ("500", 3.0),
    ]
    assert set(found["kong_http_status"][0][0]) == {"service", "route", "code"}
    total = dict(
        (labels["state"], value) for labels, value in found["kong_nginx_http_current_connections"]
    )
    assert total["total"] == 4 + 3 + 2 + 1 + 1  # the scrape itself included


@pytest.mark.parametrize(
    ("version", "labels", "serviceless"),
    [
        ("3.4.3.12", {"service", "route", "code", "source", "consumer"}, False),
        ("3.6.1.0", {"service", "route", "code", "source", "consumer"}, True),
        ("3.9.1", {"service", "route", "code", "source", "workspace", "consumer"}, True),
    ],
)
async def test_3x_counts_routed_requests_with_status_code_metrics(
    session: aiohttp.ClientSession, version: str, labels: set[str], serviceless: bool
) -> None:
    node = kong.SimNode(
        name="gw", mode=kong.Mode.EE_DBLESS, version=version, prometheus="status_code_metrics"
    )
    traffic(node)
    found = families(await scrape(node, session))
    series = found["kong_http_requests"]
    assert all(set(sample) == labels for sample, _ in series)
    assert sum(value for _, value in series) == 4 + 3 + (1 if serviceless else 0)
    [(ids, total)] = found["kong_nginx_requests_total"]  # a gauge keeps its _total
    assert (ids, total) == ({"node_id": node.node_id, "subsystem": "http"}, 11.0)
    assert found["kong_node_info"] == [({"node_id": node.node_id, "version": node.version}, 1.0)]


@pytest.mark.parametrize(("version", "shm"), [("3.1.1.0", True), ("3.2.2.0", False)])
async def test_without_any_instance_no_requests_are_counted_and_3_2_hides_the_shm(
    session: aiohttp.ClientSession, version: str, shm: bool
) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.EE_DBLESS, version=version, prometheus=None)
    traffic(node)
    text = await scrape(node, session)
    found = families(text)
    assert "kong_http_requests" not in found
    # metric_data prints HELP/TYPE only before a metric's first series.
    assert "kong_http_requests_total" not in text
    assert ("kong_nginx_metric_errors" in found) is shm
    assert found["kong_nginx_requests_total"][0][1] == 11.0


async def test_a_default_instance_counts_nothing_from_3_0(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.OSS_DBLESS, version="3.9.1", prometheus="default")
    traffic(node)
    text = await scrape(node, session)
    assert "http_requests_total" not in text
    assert "# HELP kong_nginx_metric_errors_total Number of nginx-lua-prometheus errors\n" in text


async def test_help_and_type_come_just_before_the_first_series_in_key_order(
    session: aiohttp.ClientSession,
) -> None:
    node = kong.SimNode(
        name="gw", mode=kong.Mode.OSS_DBLESS, version="3.9.1", prometheus="status_code_metrics"
    )
    node.proxy(1, route=kong.Route(name="b"))
    node.proxy(1, route=kong.Route(name="a"))
    lines = (await scrape(node, session)).splitlines()
    start = lines.index(
        "# HELP kong_http_requests_total HTTP status codes per consumer/service/route in Kong"
    )
    assert lines[start + 1] == "# TYPE kong_http_requests_total counter"
    assert lines[start + 2].startswith(
        'kong_http_requests_total{service="example-service",route="a",'
    )
    assert lines[start + 3].startswith(
        'kong_http_requests_total{service="example-service",route="b",'
    )
    keys = [line.split(" ")[0] for line in lines if not line.startswith("#")]
    assert keys == sorted(keys)
