"""Configuration from the gateway pods' spec: what Kong reads from its env, the minimal request
being a selector.

Per pod, from the Kong container's env (``value``, or ``valueFrom.secretKeyRef``
followed: the Secret is read in the pod's namespace): the Admin API's listeners
(``KONG_ADMIN_LISTEN``), the datastore (``KONG_DATABASE=postgres`` and
``KONG_PG_*``, Kong's defaults where unset), the license
(``KONG_LICENSE_DATA``), the admin token (``KONG_PASSWORD``, or the ingress
controller's ``CONTROLLER_KONG_ADMIN_TOKEN``). A field given in the spec wins
over anything derived: ``envFrom`` and a mounted ``kong.conf`` are invisible
here. Nothing is derived from what a pod does not say: a pod without
``KONG_DATABASE=postgres`` in its env gets no datastore (Kong's own default
is postgres, but such a pod may well be configured by ``kong.conf``).

Pods of one request that disagree (two datastores, two licenses, two tokens)
cannot be told apart: that is ``ConflictingPodConfiguration``, never a guess.
Konnect data planes (``KONG_KONNECT_MODE=on``) keep their usage in Konnect:
``KonnectManaged`` at once. What was derived, and from where, goes in the
status, never a secret's value.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence

from license_report.api import defaults, errors, v1alpha1
from license_report.reconcile import discovery, kongconf, kube, secrets
from license_report.report import models
from license_report.sources import datastore


class DerivationError(errors.ReportError):
    """What the pods say cannot be used as it is; ``reason`` says why. Never transient: the
    pods or the spec must change."""

    transient = False


@dataclasses.dataclass(frozen=True)
class Derived:
    targets: list[models.Target]
    # Targets reached through port-forward, by name: their URLs are `Forward.url`.
    forwards: dict[str, Forward]
    failures: list[models.Failure]  # pods whose spec leaves nothing to ask (admin_listen off)
    token: str | None = dataclasses.field(repr=False)
    license_text: str | None = dataclasses.field(repr=False)
    database: datastore.DatastoreSettings | None
    status: v1alpha1.DerivedSettings | None
    notes: list[str]
    #: The gateway pods' namespace when the datastore's host is theirs (``KONG_PG_HOST``, not
    #: spec.datastore.postgres.host): it is then reached along `datastore_route.route` (a
    #: Service name resolved there), and when it cannot be, a gateway's own report stands
    #: for it. None: no datastore, or the host is the spec's (unreachable is a failure).
    datastore_namespace: str | None = None


class _Values:
    """Env values with their Secrets read once, each in its pod's namespace."""

    def __init__(self, clients: kube.Clients) -> None:
        self.clients = clients
        self._read: dict[tuple[str, discovery.SecretKey], str] = {}

    async def get(self, facts: discovery.PodFacts, name: str, value: discovery.EnvValue) -> str:
        if isinstance(value, str):
            return value
        known = self._read.get((facts.namespace, value))
        if known is None:
            ref = v1alpha1.SecretKeyRef(name=value.name, key=value.key)
            field = f"{name} of pod {facts.namespace}/{facts.pod}"
            known = await secrets.read(
                clients=self.clients, namespace=facts.namespace, ref=ref, field=field
            )
            self._read[(facts.namespace, value)] = known
        return known


def _source(value: discovery.EnvValue, name: str) -> str:
    if isinstance(value, discovery.SecretKey):
        return f"Secret {value.name} key {value.key} ({name})"
    return f"{name} value"


def _one(found: Mapping[str, list[str]], what: str) -> str | None:
    """The one value all pods agree on, or ``ConflictingPodConfiguration`` naming them."""
    if len(found) > 1:
        sides = "; ".join(f"{value}: {', '.join(pods[:3])}" for value, pods in found.items())
        raise DerivationError(
            f"the gateway pods disagree on {what} ({sides}); narrow spec.gateway.selector to "
            "one fleet, or give it in the spec",
            reason=errors.Reason.CONFLICTING_POD_CONFIGURATION,
        )
    return next(iter(found), None)


def _konnect(facts: Iterable[discovery.PodFacts]) -> None:
    konnect = sorted(
        f.pod for f in facts if kongconf.flag(_literal(f.env.get("KONG_KONNECT_MODE")))
    )
    if konnect:
        raise DerivationError(
            f"{len(konnect)} gateway pods are Konnect data planes (KONG_KONNECT_MODE=on, e.g. "
            f"{konnect[0]}): their usage is counted in Konnect, which has the report",
            reason=errors.Reason.KONNECT_MANAGED,
        )


def _literal(value: discovery.EnvValue | None) -> str | None:
    return value if isinstance(value, str) else None


@dataclasses.dataclass(frozen=True)
class Forward:
    """A target reached through the API server's ``pods/portforward``. It has no address:
    its requests go over WebSockets opened while they are made (`kong.reach`), so the
    target's URL names the pod, under ``.invalid`` (RFC 2606: it never resolves), and the
    run maps that URL to the forward (`kong.Route.forward`)."""

    namespace: str
    pod: str
    port: int
    scheme: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.pod}.{self.namespace}.portforward.invalid:{self.port}"


def _routes(
    *, admin: v1alpha1.AdminApi, listeners: list[kongconf.Listener] | None, port: int
) -> tuple[str, kongconf.Listener | None]:
    """``direct`` or ``portForward``, and the listener chosen (None: the explicit or
    default ``port``). ``listeners`` None: the pod's env does not say."""
    access = admin.access or defaults.ADMIN_API_ACCESS
    explicit = admin.port is not None or admin.port_name is not None
    if explicit or listeners is None:
        # The port is the user's (or Kong's default 8001): auto keeps to the pod IP.
        return ("portForward" if access == "portForward" else "direct"), None
    on_ip = [x for x in listeners if not x.loopback]
    tls = admin.tls
    verifiable = tls is not None and (tls.ca_secret_ref is not None or tls.insecure_skip_verify)
    tls_on_ip = [x for x in on_ip if x.ssl]
    if access == "direct" or (access == "auto" and tls_on_ip and verifiable):
        if tls_on_ip and (verifiable or not [x for x in on_ip if not x.ssl]):
            return "direct", tls_on_ip[0]
        return "direct", next(iter(on_ip), None)
    # Port-forward: the TLS listener if there is one, else the plain one.
    return "portForward", min(listeners, key=lambda x: not x.ssl)


def _admin(
    *,
    spec: v1alpha1.Spec,
    found: discovery.Discovery,
) -> tuple[list[models.Target], dict[str, Forward], list[models.Failure], str | None]:
    """Each target's route from its ``KONG_ADMIN_LISTEN`` and ``access`` (explicit port,
    portName, scheme win)."""
    admin = spec.gateway.admin_api
    targets, failures, described = [], [], set()
    forwards: dict[str, Forward] = {}
    for target in found.targets:
        facts = found.facts[target.name]
        listen = _literal(facts.env.get("KONG_ADMIN_LISTEN"))
        try:
            listeners = None if listen is None else kongconf.parse_listen(listen)
        except kongconf.ListenError as error:
            failures.append(_no_admin(target, f"KONG_ADMIN_LISTEN: {error}"))
            continue
        if listeners == []:
            failures.append(_no_admin(target, "KONG_ADMIN_LISTEN is off: no Admin API"))
            continue
        given = urllib.parse.urlsplit(target.url)
        route, chosen = _routes(admin=admin, listeners=listeners, port=given.port or 0)
        port = chosen.port if chosen else (given.port or defaults.ADMIN_API_PORT)
        scheme = admin.scheme or (chosen.scheme if chosen else given.scheme)
        source = " (KONG_ADMIN_LISTEN)" if chosen else ""
        if route == "portForward":
            forward = Forward(namespace=facts.namespace, pod=facts.pod, port=port, scheme=scheme)
            forwards[target.name] = forward
            targets.append(target.model_copy(update={"url": forward.url}))
            described.add(f"{scheme} localhost:{port} via port-forward{source}")
        elif chosen is None and listeners is not None:
            failures.append(
                _no_admin(
                    target,
                    "KONG_ADMIN_LISTEN has no listener on the pod IP (loopback only): "
                    "use spec.gateway.adminApi.access auto or portForward",
                )
            )
        else:
            assert facts.ip is not None  # discovery asks only pods with an IP
            targets.append(
                target.model_copy(
                    update={"url": discovery.url(scheme=scheme, ip=facts.ip, port=port)}
                )
            )
            if chosen is not None:
                described.add(f"{scheme} <pod IP>:{port} direct{source}")
    return targets, forwards, failures, "; ".join(sorted(described)) or None


def _no_admin(target: models.Target, message: str) -> models.Failure:
    return models.Failure(pod=target.name, reason=errors.Reason.NOT_READY, message=message)


async def _token(
    *,
    values: _Values,
    facts: Sequence[discovery.PodFacts],
    targets: Sequence[models.Target],
    forwards: Mapping[str, Forward],
) -> tuple[str | None, str | None, list[str]]:
    found: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for pod in facts:
        for name, value in (
            ("KONG_PASSWORD", pod.env.get("KONG_PASSWORD")),
            ("CONTROLLER_KONG_ADMIN_TOKEN", pod.controller_token),
        ):
            if value is not None:
                read = await values.get(pod, name, value)
                found.setdefault(read, []).append(pod.pod)
                sources[read] = _source(value, name)
                break
    token = _one(found, "the admin token (KONG_PASSWORD, CONTROLLER_KONG_ADMIN_TOKEN)")
    if token is None:
        return None, None, []
    if any(not t.url.startswith("https:") and t.name not in forwards for t in targets):
        # Derived, not asked for: never sent where anyone on the path could read it.
        return (
            None,
            None,
            [
                f"The pods' admin token ({sources[token]}) is not sent: some Admin APIs are "
                "reached over plain http."
            ],
        )
    return token, sources[token], []


async def _license(
    *, values: _Values, facts: Sequence[discovery.PodFacts]
) -> tuple[str | None, str | None]:
    found: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for pod in facts:
        value = pod.env.get("KONG_LICENSE_DATA")
        if value is not None:
            read = await values.get(pod, "KONG_LICENSE_DATA", value)
            found.setdefault(read, []).append(pod.pod)
            sources[read] = _source(value, "KONG_LICENSE_DATA")
    text = _one(found, "the license (KONG_LICENSE_DATA)")
    return text, None if text is None else sources[text]


@dataclasses.dataclass(frozen=True)
class _Postgres:
    host: str
    port: int
    database: str
    user: str
    sslmode: str
    namespace: str
    password: discovery.EnvValue | None

    def describe(self) -> str:
        return f"{self.host}:{self.port} database {self.database} user {self.user}"


def _pod_postgres(pod: discovery.PodFacts) -> _Postgres | None:
    env = pod.env
    if _literal(env.get("KONG_DATABASE")) != "postgres" or (
        _literal(env.get("KONG_ROLE")) == "data_plane"
    ):
        return None
    port = _literal(env.get("KONG_PG_PORT")) or str(kongconf.PG_PORT)
    return _Postgres(
        host=kongconf.qualified_host(
            _literal(env.get("KONG_PG_HOST")) or kongconf.PG_HOST, namespace=pod.namespace
        ),
        port=int(port) if port.isdigit() else kongconf.PG_PORT,
        database=_literal(env.get("KONG_PG_DATABASE")) or kongconf.PG_DATABASE,
        user=_literal(env.get("KONG_PG_USER")) or kongconf.PG_USER,
        sslmode=kongconf.ssl_mode(
            ssl=_literal(env.get("KONG_PG_SSL")), verify=_literal(env.get("KONG_PG_SSL_VERIFY"))
        ),
        namespace=pod.namespace,
        password=env.get("KONG_PG_PASSWORD"),
    )


async def _database(
    *,
    spec: v1alpha1.Spec,
    values: _Values,
    facts: Sequence[discovery.PodFacts],
    password: str | None,
) -> tuple[datastore.DatastoreSettings | None, str | None, str | None]:
    """The settings, how they were derived, and the pods' namespace when the host is theirs."""
    given = spec.datastore.postgres if spec.datastore else None
    if spec.datastore is not None and spec.datastore.disabled:
        return None, None, None
    found: dict[_Postgres, list[str]] = {}
    for pod in facts:
        pg = _pod_postgres(pod)
        if pg is not None:
            found.setdefault(pg, []).append(pod.pod)
    _one({pg.describe(): pods for pg, pods in found.items()}, "the datastore (KONG_PG_*)")
    pg = next(iter(found), None)
    if given is None and pg is None:
        return None, None, None
    host = (given.host if given else None) or (pg.host if pg else None)
    if host is None:
        raise DerivationError(
            "spec.datastore.postgres gives no host and no gateway pod sets KONG_DATABASE="
            "postgres: set spec.datastore.postgres.host, or spec.datastore.disabled: true",
            reason=errors.Reason.DATASTORE_NOT_CONFIGURED,
        )
    port = (given.port if given else None) or (pg.port if pg else defaults.POSTGRES_PORT)
    routed = pg.namespace if pg is not None and (given is None or given.host is None) else None
    if (
        password is None
        and pg is not None
        and pg.password is not None
        and not (given and given.password_secret_ref)
    ):
        facts_of = next(f for f in facts if f.pod in found[pg])
        password = await values.get(facts_of, "KONG_PG_PASSWORD", pg.password)
    settings = datastore.DatastoreSettings(
        host=host,
        port=port,
        database=(given.database if given else None)
        or (pg.database if pg else defaults.POSTGRES_DATABASE),
        user=(given.user if given else None) or (pg.user if pg else defaults.POSTGRES_USER),
        password=password,
        sslmode=(given.ssl_mode if given else None)
        or (pg.sslmode if pg else defaults.POSTGRES_SSL_MODE),
    )
    if pg is None:
        return settings, None, None
    described = (
        f"{settings.host}:{settings.port} database {settings.database} user {settings.user} "
        f"sslmode {settings.sslmode} (KONG_PG_*"
    )
    if pg.password is not None and not (given and given.password_secret_ref):
        described += ", password from " + _source(pg.password, "KONG_PG_PASSWORD")
    overridden = [
        name
        for name in ("host", "port", "database", "user", "ssl_mode", "password_secret_ref")
        if given is not None and getattr(given, name) is not None
    ]
    if overridden:
        described += "; spec.datastore.postgres gives " + ", ".join(overridden)
    return settings, described + ")", routed


async def derive(
    *,
    clients: kube.Clients,
    spec: v1alpha1.Spec,
    found: discovery.Discovery,
    token: str | None,
    license_text: str | None,
    password: str | None,
) -> Derived:
    """What the pods say, with the spec's explicit values (already read) winning."""
    every = list(found.facts.values())
    _konnect(every)
    values = _Values(clients)
    asked = [found.facts[t.name] for t in found.targets]
    targets, forwards, failures, admin = _admin(spec=spec, found=found)
    notes: list[str] = []
    token_source = None
    if token is None:
        token, token_source, notes = await _token(
            values=values, facts=asked, targets=targets, forwards=forwards
        )
    license_source = None
    if license_text is None and spec.license is None:
        license_text, license_source = await _license(values=values, facts=every)
    database, datastore_source, datastore_namespace = await _database(
        spec=spec, values=values, facts=asked, password=password
    )
    described = v1alpha1.DerivedSettings(
        admin_api=admin, datastore=datastore_source, license=license_source, token=token_source
    )
    return Derived(
        targets=targets,
        forwards=forwards,
        failures=failures,
        token=token,
        license_text=license_text,
        database=database,
        status=described if described.model_dump(exclude_none=True) else None,
        notes=notes,
        datastore_namespace=datastore_namespace,
    )
