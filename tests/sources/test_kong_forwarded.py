"""A node reached through a port-forward: the forward is opened for its requests and closed
after them, and its three requests share one connection (sent together: test_pipelining),
since each new connection would be a WebSocket to the API server and a TLS handshake with
Kong (issue 13)."""

from __future__ import annotations

import pytest

from license_report.api import errors
from license_report.report import models
from license_report.sources import entities, kong, portforward, tunnels
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers.fleets import FleetFactory

PORT = 8444
URL = f"http://gw-1.kong.portforward.invalid:{PORT}"


def _portforwards(api: kubeapi.KubeAPI) -> int:
    return len([r for r in api.requests if r.path.endswith("/portforward")])


async def test_a_forwarded_node_is_asked_on_one_websocket_opened_and_closed_with_it(
    api: kubeapi.KubeAPI, fleet: FleetFactory
) -> None:
    nodes = [sim.SimNode(name="gw-1", mode=sim.Mode.EE_DBLESS, services=7, counters={"2026-11": 3})]
    async with fleet(nodes) as running:
        (node,) = running.nodes
        api.put(kubeapi.make_pod("gw-1", "kong", ip="127.3.0.1", node_name="node-1"))
        api.pod_network.listen("kong", "gw-1", {PORT: (node.address, running.port)})
        connection = portforward.Connection(configuration=api.configuration())
        opened: list[tunnels.Connector] = []

        async with tunnels.Pool(connection=connection) as pool:

            def forward() -> tunnels.Connector:
                opened.append(pool.connector(namespace="kong", pod="gw-1", port=PORT))
                return opened[-1]

            settings = kong.ClientSettings(timeout=5.0, routes={URL: kong.Route(forward=forward)})
            target = models.Target(name="gw-1", url=URL)
            async with kong.new_session(settings) as session:
                observation = await kong.fetch_node(
                    session=session, target=target, settings=settings
                )
                assert observation.license_report is not None
                assert observation.status.configuration_hash
                # One connection for /, /status and /license/report: one WebSocket.
                assert [f.websockets for f in opened] == [1]
                assert _portforwards(api) == 1
                # Closed with the node.
                assert opened[0].closed

                counts = await entities.count_entities(
                    session=session, base_url=URL, settings=settings
                )
                assert counts.services == 7
                assert len(opened) == 2  # a forward of its own for the lists


async def test_a_pod_gone_is_that_nodes_failure_and_a_403_ends_the_collection(
    api: kubeapi.KubeAPI,
) -> None:
    connection = portforward.Connection(configuration=api.configuration())
    async with tunnels.Pool(connection=connection) as pool:
        gone = kong.Route(
            forward=lambda: pool.connector(namespace="kong", pod="gw-gone", port=PORT)
        )
        settings = kong.ClientSettings(timeout=5.0, routes={URL: gone})
        async with kong.new_session(settings) as session:
            observations, failures = await kong.fetch_nodes(
                session=session, targets=[models.Target(name="gw-1", url=URL)], settings=settings
            )
        assert observations == []
        assert [(f.pod, f.reason) for f in failures] == [("gw-1", errors.Reason.POD_GONE)]

    api.pod_network.forbid("kong")
    async with tunnels.Pool(connection=connection) as pool:
        forbidden = kong.Route(
            forward=lambda: pool.connector(namespace="kong", pod="gw-1", port=PORT)
        )
        other = URL.replace("gw-1", "gw-2")
        settings = kong.ClientSettings(
            timeout=5.0, max_concurrency=1, routes={URL: forbidden, other: forbidden}
        )
        targets = [models.Target(name="gw-1", url=URL), models.Target(name="gw-2", url=other)]
        async with kong.new_session(settings) as session:
            with pytest.raises(portforward.PortForwardError) as caught:
                await kong.fetch_nodes(session=session, targets=targets, settings=settings)
        assert caught.value.reason == errors.Reason.PORT_FORWARD_FORBIDDEN
        assert _portforwards(api) == 2  # the first 403 stopped the run: gw-2 was not tried
