"""A node counts what nginx served by kind; ``total_requests`` is their sum; restarts reset it."""

from __future__ import annotations

import aiohttp
import pytest

from license_report_sandbox import kong
from license_report_sandbox.kong import status_api

PROBE_HEADERS = {"User-Agent": "kube-probe/1.33"}


async def get(session: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, str]:
    async with session.get(url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.text()


async def test_every_kind_is_counted_apart_and_nginx_sums_them(
    session: aiohttp.ClientSession,
) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.EE_DBLESS, version="3.9.1.0")
    async with kong.Fleet([node], status_port=status_api.PORT) as fleet:
        node.proxy(5)
        node.proxy(2, route=None, code=404)
        await get(session, fleet.url(node) + "/")  # an Admin API call
        await get(session, fleet.status_url(node) + "/status/ready", headers=PROBE_HEADERS)
        await get(session, fleet.status_url(node) + "/status", headers=PROBE_HEADERS)
        status, body = await get(session, fleet.status_url(node) + "/status")
    assert status == 200
    assert dict(node.served) == {
        kong.Kind.ROUTED: 5,
        kong.Kind.UNROUTED: 2,
        kong.Kind.ADMIN: 1,
        kong.Kind.PROBE: 2,
        kong.Kind.STATUS: 1,
    }
    # The sampler's own request is in the figure it reads: counted before the handler.
    assert f'"total_requests":{5 + 2 + 1 + 2 + 1}' in body
    # Kong's sales counter counts unmatched requests too: the truth is 7.
    assert sum(node.proxied.values()) == 7


async def test_status_listener_is_on_the_node_address_at_the_status_port(
    session: aiohttp.ClientSession,
) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.OSS_DBLESS, version="3.2.2")
    async with kong.Fleet([node], status_port=status_api.PORT) as fleet:
        assert fleet.status_url(node) == f"http://{node.address}:8100"
        assert fleet.port != status_api.PORT
        # /status/ready first in 3.3: a 3.2 node answers Not found (still a counted request).
        status, _ = await get(session, fleet.status_url(node) + "/status/ready")
        assert status == 404
        assert node.total_requests == 1


def test_a_restart_starts_a_new_master_and_a_reload_does_not() -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.EE_DBLESS, prometheus="status_code_metrics")
    node.proxy(10)
    node.serve(kong.Kind.PROBE, 3)
    node.reload()
    assert (node.total_requests, sum(node.series.values())) == (13, 10)
    first_id = node.node_id
    node.restart()
    assert (node.total_requests, node.series, dict(node.served)) == (0, {}, {})
    assert node.restarts == 1
    assert node.node_id != first_id  # traditional DB-less: Kong's shm id, new each start
    assert node.served_ever[kong.Kind.ROUTED] == 10
    assert sum(node.proxied.values()) == 10  # the truth outlives the master


@pytest.mark.parametrize(("version", "kept"), [("3.0.1.0", False), ("3.1.0.0", True)])
def test_a_data_plane_keeps_its_node_id_from_3_1(version: str, kept: bool) -> None:
    node = kong.SimNode(name="dp", mode=kong.Mode.EE_DBLESS, role="data_plane", version=version)
    first_id = node.node_id
    node.restart()
    assert (node.node_id == first_id) is kept


async def test_a_stopped_node_answers_nothing(session: aiohttp.ClientSession) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.OSS_DBLESS)
    async with kong.Fleet([node], status_port=status_api.PORT) as fleet:
        await fleet.stop_node("gw")
        with pytest.raises(aiohttp.ClientConnectionError):
            await get(session, fleet.status_url(node) + "/status")
        with pytest.raises(aiohttp.ClientConnectionError):
            await get(session, fleet.url(node) + "/status")
    assert node.total_requests == 0
