"""A node reached through a port-forward is asked on one kept-alive connection: each new
connection would be a WebSocket to the API server and a TLS handshake with Kong (issue 13)."""

from __future__ import annotations

from license_report.report import models
from license_report.sources import kong, portforward
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.helpers.fleets import FleetFactory

PORT = 8444


async def test_a_forwarded_nodes_three_requests_share_one_websocket(
    api: kubeapi.KubeAPI, fleet: FleetFactory
) -> None:
    nodes = [sim.SimNode(name="gw-1", mode=sim.Mode.EE_DBLESS, counters={"2026-11": 3})]
    async with fleet(nodes) as running:
        (node,) = running.nodes
        api.put(kubeapi.make_pod("gw-1", "kong", ip="127.3.0.1", node_name="node-1"))
        api.pod_network.listen("kong", "gw-1", {PORT: (node.address, running.port)})
        connection = portforward.Connection(configuration=api.configuration())
        async with portforward.Forwarder(
            connection=connection, namespace="kong", pod="gw-1", port=PORT
        ) as forwarder:
            url = forwarder.url()
            settings = kong.ClientSettings(
                timeout=5.0, routes={url: kong.Route(forwarder=forwarder)}
            )
            target = models.Target(name="gw-1", url=url)
            async with kong.new_session(settings) as session:
                observation = await kong.fetch_node(
                    session=session, target=target, settings=settings
                )
            assert observation.license_report is not None
            assert observation.status.configuration_hash
            # One local connection for /, /status and /license/report: one WebSocket.
            assert forwarder.websockets == 1
