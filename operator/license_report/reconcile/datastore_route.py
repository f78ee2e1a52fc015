"""Where psycopg connects for Kong's datastore: the host itself when it resolves, else a
port-forward to a ready pod behind the Service the host names.

Kong's chart sets ``KONG_PG_HOST=<release>-postgresql``: a Service name the
cluster's DNS answers for pods, and nothing answers for an operator run outside
the cluster (``license-report run`` with a kubeconfig, the sandbox, the tests).
Then the Service is found through the API instead: its EndpointSlices name the
pods behind it, whether each is ready, and the pod port the Service's port maps
to; a `portforward.Forwarder` to one ready pod gives a local endpoint. psycopg
connects to that address (``hostaddr``) while ``host`` keeps the Service name,
so libpq still checks a server certificate against the name (``sslmode``
applies end to end, to PostgreSQL itself).

Host forms taken as a Service name once DNS has not resolved them: ``name``
(in ``namespace``, the gateway pod's), ``name.ns``, ``name.ns.svc`` and
``name.ns.svc.<cluster domain>``. A short name is first looked up qualified,
``name.ns.svc``: in a cluster the operator's own DNS search path would find the
name in the operator's namespace, not the gateway's. Another name that DNS
says does not exist is `DatastoreHostNotFound`; one whose lookup timed out or
failed for now is connected to directly (libpq resolves it again, with its own
timeout), as before this module.

Every failure is a `RouteError`, a `datastore.DatastoreError`, so a caller
treats "cannot reach the datastore" as one thing whatever the step; its reason
says which (no such Service, no ready endpoint, RBAC, a port-forward's own
reason such as ``PortForwardForbidden``) and ``transient`` whether it may pass.
API calls: ``get`` on ``services`` and ``list`` on ``endpointslices`` in the
Service's namespace, and ``create`` on ``pods/portforward`` (what the chart grants).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import re
import socket

import kubernetes

from license_report.api import errors
from license_report.reconcile import kube
from license_report.sources import datastore, portforward

#: The label the EndpointSlice controller puts on a Service's slices.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: A Service's name (RFC 1035 label) and a namespace's (RFC 1123 label).
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


#: A datastore error that says it could not be reached from here (no route, a refused or
#: silent connection: a NetworkPolicy, say), rather than that it answered wrongly (a
#: password, a missing table). A datastore derived from the pods falls back on a gateway's
#: own report for these; one the spec names fails.
UNREACHABLE = frozenset(
    {
        errors.Reason.DATASTORE_CONNECTION_REFUSED,
        errors.Reason.DATASTORE_TIMEOUT,
        errors.Reason.DATASTORE_HOST_NOT_FOUND,
        errors.Reason.DATASTORE_SERVICE_NOT_FOUND,
        errors.Reason.DATASTORE_SERVICE_PORT_NOT_FOUND,
        errors.Reason.DATASTORE_NO_READY_ENDPOINT,
        errors.Reason.DATASTORE_LOOKUP_FORBIDDEN,
        errors.Reason.PORT_FORWARD_FORBIDDEN,
        errors.Reason.PORT_FORWARD_FAILED,
        errors.Reason.POD_GONE,
        errors.Reason.CONNECTION_REFUSED,
        errors.Reason.API_SERVER_UNREACHABLE,
    }
)


class Via(enum.StrEnum):
    """How the datastore is reached (the status shows it)."""

    DIRECT = "Direct"
    PORT_FORWARD = "PortForward"


class RouteError(datastore.DatastoreError):
    """The datastore's host cannot be reached from here; ``reason`` says at which step."""


@dataclasses.dataclass
class Route:
    """Where to connect, and why: ``async with await route(...) as r: ...r.settings(s)...``.

    A port-forward is open from `route` on and closed on leaving the ``async
    with`` (or by `close`); a direct route holds nothing.
    """

    via: Via
    #: The name libpq is given (and checks a certificate against): the host as it
    #: resolved, or the Service's name when port-forwarded.
    host: str
    #: The port to connect to: the datastore's, or the port-forward's local one.
    port: int
    #: The address to connect to instead of resolving ``host``: the port-forward's, else None.
    hostaddr: str | None
    #: Why this route, in a sentence for the status (no secrets: names and ports only).
    message: str
    #: ``namespace/name`` of the Service, when one was looked up.
    service: str | None = None
    #: ``namespace/name`` of the pod port-forwarded to, and its port there.
    pod: str | None = None
    pod_port: int | None = None
    forwarder: portforward.Forwarder | None = dataclasses.field(default=None, repr=False)

    @property
    def address(self) -> tuple[str, int]:
        """Where the TCP connection goes."""
        return self.hostaddr or self.host, self.port

    @property
    def failure(self) -> RouteError | None:
        """What cut the port-forward, if it was (nothing listening in the pod, the pod gone):
        psycopg only sees a closed connection."""
        if self.forwarder is None or self.forwarder.failure is None:
            return None
        return _forward_error(self.forwarder.failure, service=self.service or "")

    def settings(self, base: datastore.DatastoreSettings) -> datastore.DatastoreSettings:
        """``base`` (user, database, TLS...) pointed along this route."""
        return dataclasses.replace(base, host=self.host, port=self.port, hostaddr=self.hostaddr)

    async def close(self) -> None:
        if self.forwarder is not None:
            await self.forwarder.close()

    async def __aenter__(self) -> Route:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def route(
    *, clients: kube.Clients, host: str, port: int, namespace: str, dns_timeout: float
) -> Route:
    """The route to ``host:port``: direct when it resolves here, else through a port-forward to
    a ready pod of the Service it names (a short name is in ``namespace``).

    ``dns_timeout`` bounds each DNS lookup (seconds): an operator outside the
    cluster should not wait long to learn that a Service name does not resolve.
    Raises `RouteError`.
    """
    service = service_of(host, namespace=namespace)
    names = [host]
    if service is not None and "." not in host:
        names.insert(0, f"{service[1]}.{service[0]}.svc")  # see the module's docstring
    lookups = await _resolve(names, port=port, timeout=dns_timeout)
    for name in names:
        if lookups[name] is _Lookup.RESOLVED:
            return Route(
                via=Via.DIRECT,
                host=name,
                port=port,
                hostaddr=None,
                message=f"{name} resolves: connecting to it directly",
            )
    if service is None:
        if lookups[host] is _Lookup.NOT_FOUND:
            raise RouteError(
                f"the datastore host {host} does not resolve, and is not a Service name"
                " (name, name.namespace or name.namespace.svc); check the host and DNS",
                reason=errors.Reason.DATASTORE_HOST_NOT_FOUND,
                transient=True,  # as when libpq fails to resolve it: DNS may not have it yet
            )
        return Route(
            via=Via.DIRECT,
            host=host,
            port=port,
            hostaddr=None,
            message=f"DNS did not answer for {host} within {dns_timeout:g} s: connecting to it"
            " directly (libpq resolves it again)",
        )
    return await _through_service(
        clients=clients, host=host, port=port, namespace=service[0], name=service[1]
    )


def service_of(host: str, *, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service ``host`` may name, else None (an IP, an outside name)."""
    labels = host.rstrip(".").lower().split(".")
    if len(labels) == 1:
        name, ns = labels[0], namespace
    elif len(labels) == 2 or labels[2] == "svc":
        name, ns = labels[0], labels[1]
    else:
        return None
    if _SERVICE_NAME.match(name) and _NAMESPACE.match(ns):
        return ns, name
    return None


class _Lookup(enum.Enum):
    RESOLVED = enum.auto()
    NOT_FOUND = enum.auto()  # the resolver says the name does not exist
    UNKNOWN = enum.auto()  # no answer in time, or a temporary failure


async def _resolve(names: list[str], *, port: int, timeout: float) -> dict[str, _Lookup]:
    """Each name looked up at the same time, through the event loop's resolver (a thread)."""
    loop = asyncio.get_running_loop()

    async def lookup(name: str) -> _Lookup:
        try:
            async with asyncio.timeout(timeout):
                await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            return _Lookup.UNKNOWN
        except socket.gaierror as error:
            if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
                return _Lookup.NOT_FOUND
            return _Lookup.UNKNOWN  # EAI_AGAIN and the like: the resolver may answer later
        except (OSError, UnicodeError):
            return _Lookup.NOT_FOUND  # not a name a resolver takes (too long, bad characters)
        return _Lookup.RESOLVED

    answers = await asyncio.gather(*(lookup(name) for name in names))
    return dict(zip(names, answers, strict=True))


@dataclasses.dataclass(frozen=True)
class _Candidate:
    namespace: str
    pod: str
    port: int


async def _through_service(
    *, clients: kube.Clients, host: str, port: int, namespace: str, name: str
) -> Route:
    where = f"{namespace}/{name}"
    try:
        service = await kube.call(clients.core.read_namespaced_service, name, namespace)
    except kube.ApiError as error:
        raise _lookup_error(
            error, host=host, where=where, namespace=namespace, what="`get` on `services`"
        ) from error
    spec = service.spec
    if spec is not None and spec.type == "ExternalName" and spec.external_name:
        return Route(
            via=Via.DIRECT,
            host=spec.external_name,
            port=port,
            hostaddr=None,
            message=f"{host} does not resolve here; Service {where} is an alias of"
            f" {spec.external_name}: connecting to it directly",
            service=where,
        )
    service_port = next(
        (p for p in (spec.ports if spec else None) or () if p.port == port and _tcp(p.protocol)),
        None,
    )
    if service_port is None:
        served = ", ".join(
            f"{p.port}" + (f" ({p.name})" if p.name else "")
            for p in (spec.ports if spec else None) or ()
        )
        raise RouteError(
            f"{host} does not resolve here, and Service {where} has no TCP port {port}"
            f" (its ports: {served or 'none'}); set the datastore port to one of them",
            reason=errors.Reason.DATASTORE_SERVICE_PORT_NOT_FOUND,
            transient=False,
        )
    discovery = kubernetes.client.DiscoveryV1Api(clients.api)
    try:
        slices = await kube.call(
            discovery.list_namespaced_endpoint_slice,
            namespace,
            label_selector=f"{SERVICE_NAME_LABEL}={name}",
        )
    except kube.ApiError as error:
        raise _lookup_error(
            error,
            host=host,
            where=where,
            namespace=namespace,
            what="`list` on `endpointslices` (API group `discovery.k8s.io`)",
        ) from error
    candidates, seen = _ready_pods(slices.items, service_port=service_port, namespace=namespace)
    if not candidates:
        raise RouteError(
            f"{host} does not resolve here, and Service {where} has no ready pod to"
            f" port-forward to ({seen}); wait for PostgreSQL to be ready, or check the"
            " Service's selector",
            reason=errors.Reason.DATASTORE_NO_READY_ENDPOINT,
            transient=True,
        )
    connection = portforward.Connection(
        configuration=clients.api.configuration, user_agent=clients.api.user_agent
    )
    gone: portforward.PortForwardError | None = None
    for candidate in candidates:
        forwarder = portforward.Forwarder(
            connection=connection,
            namespace=candidate.namespace,
            pod=candidate.pod,
            port=candidate.port,
        )
        try:
            await forwarder.__aenter__()
        except portforward.PortForwardError as error:
            if error.reason == errors.Reason.POD_GONE:  # replaced since the slice was written
                gone = error
                continue
            raise _forward_error(error, service=where) from error
        local_host, local_port = forwarder.address
        pod = f"{candidate.namespace}/{candidate.pod}"
        return Route(
            via=Via.PORT_FORWARD,
            host=host,
            port=local_port,
            hostaddr=local_host,
            message=f"{host} does not resolve here: port-forward to port {candidate.port} of"
            f" pod {pod}, a ready endpoint of Service {where}",
            service=where,
            pod=pod,
            pod_port=candidate.port,
            forwarder=forwarder,
        )
    assert gone is not None
    raise _forward_error(gone, service=where) from gone


def _tcp(protocol: str | None) -> bool:
    return protocol in (None, "TCP")


def _ready_pods(
    slices: list[kubernetes.client.V1EndpointSlice],
    *,
    service_port: kubernetes.client.V1ServicePort,
    namespace: str,
) -> tuple[list[_Candidate], str]:
    """The ready pods behind the Service with the pod port its ``service_port`` maps to, by
    name (a stable choice), and what was seen otherwise, for a message."""
    wanted = service_port.name or ""
    candidates: set[_Candidate] = set()
    endpoints = not_ready = not_pods = 0
    for endpoint_slice in slices:
        pod_port: int | None
        if endpoint_slice.ports is None:
            # "All ports" (a Service without a selector): the targetPort as written.
            target = service_port.target_port
            pod_port = target if isinstance(target, int) else service_port.port
        else:
            pod_port = next(
                (
                    p.port
                    for p in endpoint_slice.ports
                    if (p.name or "") == wanted and _tcp(p.protocol) and p.port
                ),
                None,
            )
        for endpoint in endpoint_slice.endpoints or ():
            endpoints += 1
            conditions = endpoint.conditions
            if conditions is not None and conditions.ready is False:  # None means ready
                not_ready += 1
                continue
            ref = endpoint.target_ref
            if ref is None or ref.kind != "Pod" or not ref.name:
                not_pods += 1
                continue
            if pod_port is not None:
                candidates.add(
                    _Candidate(namespace=ref.namespace or namespace, pod=ref.name, port=pod_port)
                )
    ordered = sorted(candidates, key=lambda c: (c.namespace, c.pod))
    if not slices:
        return ordered, "no EndpointSlices: does its selector match any pod?"
    seen = f"{endpoints} endpoints, {not_ready} not ready, {not_pods} not pods"
    if endpoints > not_ready + not_pods:
        seen += f", none serving the port named {wanted!r}" if wanted else ", none with its port"
    return ordered, seen


def _lookup_error(
    error: kube.ApiError, *, host: str, where: str, namespace: str, what: str
) -> RouteError:
    if isinstance(error, kube.NotFound):
        return RouteError(
            f"{host} does not resolve here, and there is no Service {where} to port-forward"
            " through; check the datastore host",
            reason=errors.Reason.DATASTORE_SERVICE_NOT_FOUND,
            transient=False,
        )
    if isinstance(error, kube.Forbidden):
        return RouteError(
            f"{host} does not resolve here, and the operator may not look up Service {where}:"
            f" it needs {what} in namespace {namespace} (403 Forbidden)",
            reason=errors.Reason.DATASTORE_LOOKUP_FORBIDDEN,
            transient=False,
        )
    return RouteError(
        f"{host} does not resolve here, and looking up Service {where} failed: {error.message}",
        reason=errors.Reason.API_ERROR,
        transient=error.transient,
    )


def _forward_error(error: portforward.PortForwardError, *, service: str) -> RouteError:
    """A port-forward's error, its reason kept, said to be the datastore's."""
    return RouteError(
        f"the Kong datastore behind Service {service}: {error.message}",
        reason=error.reason,
        transient=error.transient,
    )
