"""Traffic and probes by loop time; restarts and rolling updates of a metered fleet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from license_report_sandbox import kong, kubeapi, metering, topologies
from tests.sim.metering.conftest import START

DAY = 86400.0


@pytest.fixture
async def clock() -> kong.LoopClock:
    return kong.LoopClock(start=START)


@pytest.fixture
async def api(clock: kong.LoopClock) -> AsyncIterator[kubeapi.KubeAPI]:
    async with kubeapi.serve(tls=False, auth=False, emulator=metering.emulator(clock)) as served:
        yield served


async def test_traffic_and_the_charts_probes_follow_loop_time(clock: kong.LoopClock) -> None:
    """Two days at 3 requests/s; probes every 10 s from 5 s after the start, two kinds."""
    [pod] = topologies.chart_default(pod_ips=["127.0.0.2"])
    probes = kong.traffic.probes_of(pod)
    assert [(p.path, p.initial_delay, p.period) for p in probes] == [
        ("/status/ready", 5.0, 10.0),
        ("/status", 5.0, 10.0),
    ]
    node = kong.SimNode(name="gw", mode=kong.Mode.OSS_DBLESS)
    async with kong.Traffic(clock=clock, rate=3.0, unrouted_rate=0.5, tick=60.0) as flow:
        flow.add(node, probes=probes, started=clock.now())
        await asyncio.sleep(2 * DAY)
    # Each probe fires at 5, 15, ..., 172795 s: 17280 times in two days.
    assert node.served[kong.Kind.PROBE] == 2 * 17280
    assert node.served[kong.Kind.ROUTED] == 3 * 2 * DAY
    assert node.served[kong.Kind.UNROUTED] == 0.5 * 2 * DAY
    assert node.proxied == {"2026-03": 3.5 * 2 * DAY}


async def test_a_month_boundary_books_the_truth_in_each_month(clock: kong.LoopClock) -> None:
    node = kong.SimNode(name="gw", mode=kong.Mode.EE_DBLESS)
    async with kong.Traffic(clock=clock, rate=1.0, tick=7 * 3600.0) as flow:
        flow.add(node)
        await asyncio.sleep(20 * DAY)  # from 15 March 12:00 to 4 April 12:00
    # One request a second at 12:00:01 ... 12:00:00: 16.5 days in March but the request at
    # midnight, which is April's, although no tick ends at midnight.
    assert node.proxied == {"2026-03": 16.5 * DAY - 1, "2026-04": 3.5 * DAY + 1}


async def test_a_restart_shows_on_the_pod_and_resets_the_counters(
    api: kubeapi.KubeAPI, clock: kong.LoopClock, session: aiohttp.ClientSession
) -> None:
    async with metering.metered_fleet(api, clock=clock, pods=1, rate=2.0, tick=5.0) as fleet:
        [name] = fleet.live
        await asyncio.sleep(600)
        fleet.restart(name)
        pod = api.get("v1", "Pod", name, "kong")
        assert pod is not None
        [proxy] = [s for s in pod["status"]["containerStatuses"] if s["name"] == "proxy"]
        assert proxy["restartCount"] == 1
        assert proxy["state"]["running"]["startedAt"] == "2026-03-15T12:10:00Z"
        assert proxy["lastState"]["terminated"]["startedAt"] == "2026-03-15T12:00:00Z"
        await asyncio.sleep(100)
        async with session.get(f"http://{pod['status']['podIP']}:8100/status") as response:
            body = await response.json()
        # 100 s at 2/s, probes at 5, 15, ..., 95 s after the restart (two kinds), and this.
        assert body["server"]["total_requests"] == 200 + 2 * 10 + 1
        assert fleet.truth() == {name: {"2026-03": 2 * 700}}


async def test_a_terminating_pod_serves_for_the_quit_wait_then_is_gone(
    api: kubeapi.KubeAPI, clock: kong.LoopClock, session: aiohttp.ClientSession
) -> None:
    async with metering.metered_fleet(api, clock=clock, pods=1, rate=1.0) as fleet:
        [name] = fleet.live
        ip = fleet.nodes[name].address
        await asyncio.sleep(60)
        ending = asyncio.create_task(fleet.terminate(name))
        await asyncio.sleep(14)
        pod = api.get("v1", "Pod", name, "kong")
        assert pod is not None
        # now + terminationGracePeriodSeconds (30): a time in the future, as the API server sets.
        assert pod["metadata"]["deletionTimestamp"] == "2026-03-15T12:01:30Z"
        async with session.get(f"http://{ip}:8100/status") as response:
            assert response.status == 200
        await ending
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://{ip}:8100/status")
        assert api.get("v1", "Pod", name, "kong") is None
        assert fleet.truth()[name] == {"2026-03": 75}  # served through the 15 s wait


async def test_a_rolling_update_replaces_every_pod_and_keeps_the_truth(
    api: kubeapi.KubeAPI, clock: kong.LoopClock
) -> None:
    async with metering.metered_fleet(
        api, clock=clock, pods=3, rate=1.0, prometheus="status_code_metrics"
    ) as fleet:
        old = list(fleet.live)
        old_uids = {fleet.uids[name] for name in old}
        await asyncio.sleep(100)
        new = await fleet.roll()
        assert all(api.get("v1", "Pod", name, "kong") is None for name in old)
        pods = [api.get("v1", "Pod", name, "kong") for name in new]
    remaining = [pod["metadata"] for pod in pods if pod is not None]
    assert len(remaining) == len(new) == 3
    assert not set(new) & set(old)
    assert not {m["uid"] for m in remaining} & old_uids
    assert len({m["labels"]["pod-template-hash"] for m in remaining}) == 1
    truth = fleet.truth()
    # Each old pod served 100 s, then its turn came after 5 s per earlier pod's readiness
    # and 15 s per earlier termination: every request is some pod's, none twice.
    served = {name: sum(months.values()) for name, months in truth.items()}
    assert [served[name] for name in old] == [100 + 20, 100 + 40, 100 + 60]
    assert sum(served.values()) == sum(
        n.served_ever[kong.Kind.ROUTED] for n in fleet.nodes.values()
    )
