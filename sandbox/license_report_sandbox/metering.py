"""A metered DB-less fleet in the emulated cluster: chart pods, simulated Kong behind each, traffic.

For issue 14's tests and sandbox: the Kong chart's default pods (DB-less,
ingress controller, ``KONG_STATUS_LISTEN 0.0.0.0:8100``) in the emulator, each
pod IP a simulated node's own loopback address where its status listener
answers on 8100 (the pod's ``status`` port), its Admin API on that pod's
loopback 8444 through port-forward only (`PodNetwork.listen`); `kong.Traffic`
proxying into every node by the loop's clock, and the kubelet's probes from
the pods' specs. What a real cluster does to such pods is here too: a container
restart (`MeteredFleet.restart`) and a rolling update (`MeteredFleet.roll`).

Run it on a loop whose time may be fake (looptime) and give the emulator the same
clock (`emulator`), so that creation and deletion timestamps agree with the
traffic's months.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime
import ssl
from collections.abc import AsyncIterator
from typing import Any

from license_report_sandbox import demo, kubeapi, topologies
from license_report_sandbox import kong as sim
from license_report_sandbox.kong import status_api, traffic
from license_report_sandbox.kubeapi import rules, store
from license_report_sandbox.topologies import pods as pod_parts

#: The Admin API's port inside each pod (chart: ``127.0.0.1:8444``), reached by port-forward.
ADMIN_PORT = 8444
#: ``kong quit --wait=15`` (e76b80031a:charts/kong/values.yaml:999-1007): the node keeps
#: serving, status listener included, this long after the kubelet runs the preStop hook.
QUIT_WAIT = 15.0
_POD = ("v1", "Pod")


def emulator(clock: sim.LoopClock) -> kubeapi.Emulator:
    """An emulator whose server timestamps follow ``clock`` (pass to ``kubeapi.serve``)."""
    return kubeapi.Emulator(store=store.Store(now=clock.now))


def _stamp(moment: datetime.datetime) -> str:
    return rules.timestamp(moment)


def _started(pod: dict[str, Any], at: datetime.datetime) -> None:
    """A pod whose containers started ``at``: ``status.startTime`` and each ``startedAt``."""
    pod["status"]["startTime"] = _stamp(at)
    for status in pod["status"]["containerStatuses"]:
        status["state"] = {"running": {"startedAt": _stamp(at)}}


def bump_restart(api: kubeapi.KubeAPI, *, namespace: str, name: str, at: datetime.datetime) -> None:
    """The kubelet's report of a ``proxy`` container restart: ``restartCount`` + 1, the new
    ``state.running.startedAt``, the old run in ``lastState.terminated``."""
    pod = api.get(*_POD, name, namespace)
    if pod is None:
        raise LookupError(f"no pod {namespace}/{name}")
    for status in pod["status"]["containerStatuses"]:
        if status["name"] != "proxy":
            continue
        previous = status.get("state", {}).get("running", {}).get("startedAt")
        status["restartCount"] = int(status.get("restartCount", 0)) + 1
        status["lastState"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "Error",
                "startedAt": previous,
                "finishedAt": _stamp(at),
                "containerID": status.get("containerID"),
            }
        }
        status["state"] = {"running": {"startedAt": _stamp(at)}}
    api.put(pod)


def _as_revision(pod: dict[str, Any], *, revision: int, ip: str) -> dict[str, Any]:
    """The pod as revision ``revision`` of its Deployment renders it: a new ReplicaSet (its
    ``pod-template-hash``), a new pod name; the server gives it a new uid."""
    if revision == 0:
        return pod
    meta = pod["metadata"]
    owner = meta["ownerReferences"][0]
    deployment = owner["name"].rsplit("-", 1)[0]
    namespace = meta["namespace"]
    template_hash = pod_parts.suffix("rs", namespace, deployment, str(revision), length=10)
    replica_set = f"{deployment}-{template_hash}"
    meta["labels"]["pod-template-hash"] = template_hash
    owner["name"] = replica_set
    owner["uid"] = pod_parts.uid("ReplicaSet", namespace, replica_set)
    meta["name"] = f"{replica_set}-{pod_parts.suffix('pod', namespace, replica_set, ip, length=5)}"
    return pod


@dataclasses.dataclass
class MeteredFleet:
    """The running fleet: pods in ``api``, nodes in ``fleet``, ``traffic`` into them."""

    api: kubeapi.KubeAPI
    fleet: sim.Fleet
    traffic: sim.Traffic
    clock: sim.LoopClock
    namespace: str
    image: str
    license_secret: str | None
    mode: sim.Mode
    version: str
    prometheus: str | None
    revision: int = 0
    #: Every pod ever (name -> its node), gone ones included: the truth outlives the pods.
    nodes: dict[str, sim.SimNode] = dataclasses.field(default_factory=dict)
    #: Pod name -> ``metadata.uid`` as the emulator gave it.
    uids: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def live(self) -> list[str]:
        """Pods whose node still serves (terminating ones within their wait included)."""
        return [name for name, node in self.nodes.items() if not node.stopped]

    def truth(self) -> dict[str, dict[str, int]]:
        """Proxied requests per UTC month per pod (gone pods too), traffic brought up to now."""
        self.traffic.step()
        return {name: dict(node.proxied) for name, node in self.nodes.items()}

    def truth_by_month(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for months in self.truth().values():
            for month, count in months.items():
                total[month] = total.get(month, 0) + count
        return total

    async def add_pod(self) -> str:
        """A new pod of the current revision, started now, served by a new node."""
        address = self.fleet.free_address()
        pod = topologies.chart_default(
            namespace=self.namespace,
            pod_ips=[address],
            image=self.image,
            license_secret=self.license_secret,
        )[0]
        pod = _as_revision(pod, revision=self.revision, ip=address)
        now = self.clock.now()
        _started(pod, now)
        name = str(pod["metadata"]["name"])
        node = sim.SimNode(
            name=name,
            hostname=name,
            mode=self.mode,
            version=self.version,
            address=address,
            prometheus=self.prometheus,
            clock=self.clock.now,
        )
        await self.fleet.add_node(node)
        stored = self.api.put(pod)
        self.uids[name] = stored["metadata"]["uid"]
        self.api.pod_network.listen(self.namespace, name, {ADMIN_PORT: (address, self.fleet.port)})
        self.nodes[name] = node
        self.traffic.add(node, probes=traffic.probes_of(pod), started=now)
        return name

    def restart(self, name: str) -> None:
        """The pod's ``proxy`` container restarts now: a new nginx master (`SimNode.restart`),
        and the kubelet's report of it on the Pod (`bump_restart`)."""
        self.traffic.step()  # the old master's share first
        self.nodes[name].restart()
        now = self.clock.now()
        bump_restart(self.api, namespace=self.namespace, name=name, at=now)
        self.traffic.restarted(name, started=now)

    def begin_termination(self, name: str) -> None:
        """The Deployment controller deletes the pod: ``deletionTimestamp`` appears (now +
        ``terminationGracePeriodSeconds``), the kubelet runs ``kong quit --wait=15``."""
        pod = self.api.get(*_POD, name, self.namespace)
        grace = int(pod["spec"]["terminationGracePeriodSeconds"]) if pod else 30
        kind = self.api.store.kind_of(*_POD)
        assert kind is not None
        self.api.store.begin_graceful_deletion(kind, self.namespace, name, grace_seconds=grace)

    async def finish_termination(self, name: str) -> None:
        """``kong quit``'s wait is over: nginx closes its listeners and exits; the kubelet
        deletes the pod for good."""
        self.traffic.remove(name)
        await self.fleet.remove_node(name)
        self.api.pod_network.forget(self.namespace, name)
        self.api.delete(*_POD, name, self.namespace)

    async def terminate(self, name: str, *, wait: float = QUIT_WAIT) -> None:
        """`begin_termination`, ``wait`` seconds of loop time serving on, `finish_termination`."""
        self.begin_termination(name)
        await asyncio.sleep(wait)
        await self.finish_termination(name)

    async def roll(self, *, batch: int = 1, ready_after: float = 5.0) -> list[str]:
        """A rolling update to a new revision, ``batch`` pods at a time: new pods (new
        ReplicaSet, names, uids) start, become ready after ``ready_after`` s (the readiness
        probe's initial delay), then as many old pods terminate (`terminate`). Returns the
        new pods' names."""
        self.revision += 1
        old = list(self.live)
        new: list[str] = []
        for start in range(0, len(old), batch):
            group = old[start : start + batch]
            new += [await self.add_pod() for _ in group]
            await asyncio.sleep(ready_after)
            await asyncio.gather(*(self.terminate(name) for name in group))
        return new


def _license_secret(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": topologies.LICENSE_SECRET, "namespace": namespace},
        "type": "Opaque",
        "data": {"license": base64.b64encode(demo.DEMO_LICENSE.encode()).decode()},
    }


@contextlib.asynccontextmanager
async def metered_fleet(
    api: kubeapi.KubeAPI,
    *,
    clock: sim.LoopClock,
    pods: int,
    rate: float,
    unrouted_rate: float = 0.0,
    admin_rate: float = 0.0,
    tick: float = 1.0,
    mode: sim.Mode = sim.Mode.EE_DBLESS,
    version: str = "3.9.1",
    prometheus: str | None = None,
    namespace: str = "kong",
    first_address: str = "127.0.0.2",
    admin_port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[MeteredFleet]:
    """The Kong chart's DB-less pods (Enterprise with a license Secret for ``EE_DBLESS``),
    each served by a simulated node with its status listener, and traffic into them.

    ``ssl_context``: the Admin API serves TLS, as the chart's ``KONG_ADMIN_LISTEN
    127.0.0.1:8444 http2 ssl`` says (needed by a report run, which derives https from it;
    the sampler needs only the plain status listener); ``admin_port``: its port on every
    node address (0: a free one)."""
    if not mode.dbless:
        raise ValueError("a metered fleet is DB-less (Kong keeps the counts in DB mode)")
    enterprise = mode.enterprise
    image = f"kong/kong-gateway:{version}" if enterprise else f"kong:{version}"
    if api.get("v1", "Node", "node-1") is None:
        api.put(kubeapi.make_node("node-1", cpu=4, address="10.0.0.10"))
    if enterprise:
        api.put(_license_secret(namespace))
    flow = traffic.Traffic(
        clock=clock, rate=rate, unrouted_rate=unrouted_rate, admin_rate=admin_rate, tick=tick
    )
    async with sim.Fleet(
        [],
        port=admin_port,
        ssl_context=ssl_context,
        first_address=first_address,
        status_port=status_api.PORT,
    ) as running:
        metered = MeteredFleet(
            api=api,
            fleet=running,
            traffic=flow,
            clock=clock,
            namespace=namespace,
            image=image,
            license_secret=topologies.LICENSE_SECRET if enterprise else None,
            mode=mode,
            version=version,
            prometheus=prometheus,
        )
        for _ in range(pods):
            await metered.add_pod()
        async with flow:
            yield metered


__all__ = ["ADMIN_PORT", "QUIT_WAIT", "MeteredFleet", "bump_restart", "emulator", "metered_fleet"]
