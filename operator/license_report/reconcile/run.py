"""One report run for one request: Secrets, pods, collection, the ConfigMap.

Every way a run can fail is an ``errors.ReportError`` (a ``RunError`` where
this module names the spec field at fault) with a reason, a message naming
the object and field to fix, and whether it is worth retrying (a Secret
GitOps has not created yet, a datastore restarting) or not (a malformed
license, a CA that does not parse).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import functools
import ssl

from license_report.api import defaults, errors, v1alpha1
from license_report.reconcile import (
    collection,
    datastore_route,
    derivation,
    discovery,
    kube,
    output,
    secrets,
)
from license_report.reconcile import ledger as ledger_store
from license_report.report import aggregation, ledger, models, packaging, signing
from license_report.sources import datastore, kong, license, portforward, tunnels


@dataclasses.dataclass(frozen=True)
class OperatorSettings:
    """Operator-wide settings (flags of ``license-report run``)."""

    namespace: str  # where the operator runs and keeps its hash-key Secret
    hash_key_secret: str = defaults.HASH_KEY_SECRET
    retry_seconds: float = defaults.RETRY_SECONDS  # how long transient problems are retried
    backoff_seconds: float = defaults.BACKOFF_SECONDS  # first retry delay, doubled each time
    backoff_max_seconds: float = defaults.BACKOFF_MAX_SECONDS
    # What one report ConfigMap may hold before nodes.json goes to part ConfigMaps.
    config_map_budget: int = defaults.CONFIG_MAP_BUDGET
    # How long the pods' datastore host may take to resolve before a Service name is
    # reached through port-forward instead.
    dns_timeout_seconds: float = defaults.DATASTORE_DNS_TIMEOUT_SECONDS


class RunError(errors.ReportError):
    """A run's own verdict on a lower error, the message naming the spec field to fix."""


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    collection: models.Collection
    package: packaging.Package
    config_map: str
    # Matched pods that are not gateways (migrations, completed pods): counted, not failures.
    skipped: int = 0
    # What was derived from the pods' spec, and from where (no secret values).
    derived: v1alpha1.DerivedSettings | None = None


@dataclasses.dataclass(frozen=True)
class _Secrets:
    token: str | None = dataclasses.field(default=None, repr=False)
    ca: str | None = None
    client_cert: str | None = None
    client_key: str | None = dataclasses.field(default=None, repr=False)
    license_text: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)
    signing_key: str | None = dataclasses.field(default=None, repr=False)


async def _read_secrets(*, clients: kube.Clients, namespace: str, spec: v1alpha1.Spec) -> _Secrets:
    admin = spec.gateway.admin_api
    wanted: dict[str, tuple[v1alpha1.SecretKeyRef | v1alpha1.LicenseSecretRef, str]] = {}
    if admin.token_secret_ref:
        wanted["token"] = (admin.token_secret_ref, "spec.gateway.adminApi.tokenSecretRef")
    if admin.tls and admin.tls.ca_secret_ref:
        wanted["ca"] = (admin.tls.ca_secret_ref, "spec.gateway.adminApi.tls.caSecretRef")
    if admin.tls and admin.tls.client_cert_secret_ref:
        # A kubernetes.io/tls Secret: its two keys.
        name, field = admin.tls.client_cert_secret_ref.name, CLIENT_CERT_FIELD
        wanted["client_cert"] = (v1alpha1.SecretKeyRef(name=name, key="tls.crt"), field)
        wanted["client_key"] = (v1alpha1.SecretKeyRef(name=name, key="tls.key"), field)
    if spec.license:
        wanted["license_text"] = (spec.license.secret_ref, "spec.license.secretRef")
    given = spec.datastore.postgres if spec.datastore else None
    if given and given.password_secret_ref:
        wanted["password"] = (
            given.password_secret_ref,
            "spec.datastore.postgres.passwordSecretRef",
        )
    if spec.signing:
        wanted["signing_key"] = (spec.signing.secret_ref, "spec.signing.secretRef")
    try:
        values = await asyncio.gather(
            *(
                secrets.read(clients=clients, namespace=namespace, ref=ref, field=field)
                for ref, field in wanted.values()
            )
        )
    except secrets.SecretMissing as error:
        raise RunError(str(error), reason=error.reason, transient=error.transient) from None
    except secrets.SecretInvalid as error:
        raise RunError(str(error), reason=error.reason, transient=error.transient) from None
    return _Secrets(**dict(zip(wanted, values, strict=True)))


CLIENT_CERT_FIELD = "spec.gateway.adminApi.tls.clientCertSecretRef"


@dataclasses.dataclass(frozen=True)
class _AdminTLS:
    """The two TLS contexts of a run: pods reached directly, and through port-forward."""

    direct: ssl.SSLContext
    forwarded: ssl.SSLContext


def _admin_tls(spec: v1alpha1.Spec, values: _Secrets, *, namespace: str) -> _AdminTLS:
    """Direct: verified against the CA (or the system's) for the server name, unless
    insecureSkipVerify. Through port-forward the pod answers on its loopback, which no
    certificate names, and the channel is the API server's authenticated TLS connection: no
    name is checked, and the chain only against a CA given. Both present the client
    certificate."""
    admin = spec.gateway.admin_api
    certificate = (
        kong.ClientCertificate(cert_pem=values.client_cert, key_pem=values.client_key)
        if values.client_cert is not None and values.client_key is not None
        else None
    )
    try:
        direct = kong.tls_context(
            ca_pem=values.ca,
            insecure=bool(admin.tls and admin.tls.insecure_skip_verify),
            client_certificate=certificate,
        )
        forwarded = kong.tls_context(
            ca_pem=values.ca, insecure=values.ca is None, client_certificate=certificate
        )
    except kong.ConfigError as error:
        assert admin.tls is not None  # only a CA or client certificate from a Secret can fail
        if error.reason == errors.Reason.INVALID_CLIENT_CERTIFICATE:
            assert admin.tls.client_cert_secret_ref is not None
            where = f"Secret {namespace}/{admin.tls.client_cert_secret_ref.name}"
            field = CLIENT_CERT_FIELD
        else:
            ref = admin.tls.ca_secret_ref
            where = f"Secret {ref.name} key {ref.key!r}" if ref else "the CA"
            field = "spec.gateway.adminApi.tls.caSecretRef"
        raise RunError(
            f"{where} ({field}): {error}", reason=error.reason, transient=False
        ) from None
    forwarded.check_hostname = False
    return _AdminTLS(direct=direct, forwarded=forwarded)


def _admin_api(
    spec: v1alpha1.Spec,
    tls: _AdminTLS,
    *,
    token: str | None,
    forwarded: bool = False,
    plain_direct: bool = True,
) -> kong.ClientSettings:
    """The Admin API client's settings for pods reached directly (`_routes` adds the
    port-forwarded ones). ``forwarded``: some pods are reached through port-forward, whose
    channel is the API server's authenticated TLS connection: a token may go over a plain
    listener there when no target is plain http directly (``plain_direct``)."""
    admin = spec.gateway.admin_api
    return kong.ClientSettings(
        token=token,
        timeout=admin.timeout_seconds,
        max_concurrency=spec.gateway.max_concurrency,
        tls=tls.direct,
        server_name=admin.tls.server_name if admin.tls else None,
        allow_token_over_http=admin.allow_token_over_http or (forwarded and not plain_direct),
    )


def _signing_key(
    spec: v1alpha1.Spec, values: _Secrets, *, namespace: str
) -> signing.PrivateKey | None:
    """The key that signs report.json, checked before anything is collected."""
    if spec.signing is None or values.signing_key is None:
        return None
    try:
        return signing.load_private_key(values.signing_key)
    except signing.BadKey as error:
        ref = spec.signing.secret_ref
        raise RunError(
            f"Secret {namespace}/{ref.name} key {ref.key!r} (spec.signing.secretRef) {error}",
            reason=errors.Reason.INVALID_SIGNING_KEY,
            transient=False,
        ) from None


def _forward_routes(
    *, pool: tunnels.Pool, derived: derivation.Derived, tls: ssl.SSLContext
) -> dict[str, kong.Route]:
    """Each forwarded target's route: its connector comes from ``pool`` when its requests
    are made and is closed after them (`kong.reach`), reached with ``tls`` (no name
    checked)."""
    return {
        forward.url: kong.Route(
            tls=tls,
            forward=functools.partial(
                pool.connector, namespace=forward.namespace, pod=forward.pod, port=forward.port
            ),
        )
        for forward in derived.forwards.values()
    }


#: Failures that, on every pod, say the configuration is wrong: retrying cannot help.
_CONFIGURATION = {
    errors.Reason.TLS_ERROR: errors.Reason.ADMIN_TLS_FAILED,
}


def _configuration_error(error: collection.CollectionFailed) -> errors.Reason | None:
    """The reason when every pod failed the same way because of the spec, else None."""
    reasons = {f.reason for f in error.failures}
    if len(reasons) != 1 or not error.failures:
        return None
    (reason,) = reasons
    if reason == errors.Reason.NOT_READY and all(
        f.message.startswith("no container port named") for f in error.failures
    ):
        return errors.Reason.ADMIN_PORT_NOT_FOUND
    return _CONFIGURATION.get(reason)


async def _collect(request: collection.Request, spec: v1alpha1.Spec) -> models.Collection:
    try:
        return await collection.collect(request)
    except collection.CollectionFailed as error:
        named = ", ".join(f"{f.pod} ({f.reason})" for f in error.failures[:10])
        configuration = _configuration_error(error)
        if configuration is not None:
            raise RunError(
                f"{error}, every one {configuration.meaning.rstrip('.').lower()}: {named}; "
                f"the first said: {error.failures[0].message}; fix spec.gateway.adminApi",
                reason=configuration,
                transient=False,
            ) from None
        raise RunError(
            f"{error}: {named}", reason=error.reason, transient=error.transient
        ) from None
    except datastore.DatastoreError:
        raise  # its reason and message say it all
    except license.LicenseError as error:
        assert spec.license is not None
        ref = spec.license.secret_ref
        raise RunError(
            f"Secret {ref.name} key {ref.key!r} (spec.license.secretRef): {error}",
            reason=error.reason,
            transient=False,
        ) from None
    except kong.ConfigError as error:
        raise RunError(
            f"spec.gateway.adminApi: {error}", reason=error.reason, transient=False
        ) from None
    except portforward.PortForwardError as error:
        # Only a 403 ends a collection (`kong.reach`): the operator's RBAC, the same for
        # every pod of the namespace, so the run fails at once, never five minutes of retries.
        raise RunError(
            f"{error} (spec.gateway.adminApi.access)", reason=error.reason, transient=False
        ) from None


async def _metered(
    *, clients: kube.Clients, namespace: str, spec: v1alpha1.Spec, now: datetime.datetime
) -> aggregation.Metered | None:
    """The fleet's metered figures, when it is metered and its ledger holds any: reports
    read the ledger, the sampler (`handlers.metering`) alone writes it."""
    if spec.metering.enabled is False:
        return None
    fleet = ledger.fleet_key(
        namespaces=discovery.namespaces(spec.gateway, default=namespace),
        selector=spec.gateway.selector,
    )
    try:
        stored = await ledger_store.read(
            clients=clients,
            namespace=namespace,
            fleet_key=fleet,
            months=ledger.months_back(now=now, count=spec.metering.retention_months),
        )
    except ledger_store.LedgerUnreadable as error:
        raise RunError(str(error), reason=error.reason, transient=False) from None
    if not stored:
        return None
    span = aggregation.widest_window(months=spec.report.months, now=now)
    return aggregation.Metered(
        usage=ledger.usage([one.document for one in stored], span=span),
        interval_seconds=spec.metering.interval_seconds,
        ledger=fleet,
    )


@dataclasses.dataclass(frozen=True)
class _Datastore:
    """The datastore as a run reads it: along its route, or not read and why."""

    settings: datastore.DatastoreSettings | None
    route: datastore_route.Route | None = None
    unread: str | None = None


async def _route_datastore(
    *,
    stack: contextlib.AsyncExitStack,
    clients: kube.Clients,
    settings: OperatorSettings,
    derived: derivation.Derived,
) -> _Datastore:
    """The pods' own datastore along its route (kept open in ``stack``); one that cannot be
    reached is not read, and a gateway's own report stands for it. A datastore the spec
    names is connected to as given: unreachable, it fails the run."""
    if derived.database is None or derived.datastore_namespace is None:
        return _Datastore(settings=derived.database)
    try:
        route = await datastore_route.route(
            clients=clients,
            host=derived.database.host,
            port=derived.database.port,
            namespace=derived.datastore_namespace,
            dns_timeout=settings.dns_timeout_seconds,
        )
    except datastore_route.RouteError as error:
        if error.reason not in datastore_route.UNREACHABLE:
            raise
        return _Datastore(settings=None, unread=_unread(error))
    await stack.enter_async_context(route)
    return _Datastore(settings=route.settings(derived.database), route=route)


def _unread(error: errors.ReportError) -> str:
    return f"{error.reason}: {error.message}"


def _described(derived: derivation.Derived, read: _Datastore) -> v1alpha1.DerivedSettings | None:
    """status.derived, the datastore's route (or why it was not read) said after it."""
    status = derived.status
    if status is None or status.datastore is None or derived.datastore_namespace is None:
        return status
    if read.unread is not None:
        said = (
            f"{status.datastore}; not read, {read.unread}; the figures are a gateway's own report"
        )
    elif read.route is not None:
        said = f"{status.datastore}; {read.route.message}"
    else:
        return status
    return status.model_copy(update={"datastore": said})


def backoff(settings: OperatorSettings, retry: int) -> float:
    """The delay before retry number ``retry`` (from 0): doubled each time, capped."""
    return float(min(settings.backoff_seconds * 2**retry, settings.backoff_max_seconds))


@dataclasses.dataclass(frozen=True)
class _Pods:
    """What a run keeps of discovery and derivation. Each pod's facts and first target
    (a few KB a pod) are not kept: at 10,000 pods they weighed on the run's peak while
    the nodes' answers arrived (issue 13)."""

    derived: derivation.Derived
    known_failures: list[models.Failure]
    notes: list[str]
    data_planes: list[models.DataPlanePod]
    skipped: int  # matched pods that are not gateways


async def _pods(
    *, clients: kube.Clients, namespace: str, spec: v1alpha1.Spec, values: _Secrets
) -> _Pods:
    """The gateway pods and what their spec says (the spec's explicit values winning)."""
    found = await discovery.discover(clients=clients, namespace=namespace, gateway=spec.gateway)
    if not found.pods:
        where = ", ".join(discovery.namespaces(spec.gateway, default=namespace))
        none = (
            f"of the {len(found.skipped)} pods matched, none is a gateway pod "
            f"({found.skipped[0].pod}: {found.skipped[0].why})"
            if found.skipped
            else "no pod matches"
        )
        raise RunError(
            f"in namespace {where}, {none}: spec.gateway.selector "
            f"({discovery.label_selector(spec.gateway.selector)})",
            reason=errors.Reason.NO_PODS_MATCHED,
            transient=True,
        )
    try:
        derived = await derivation.derive(
            clients=clients,
            spec=spec,
            found=found,
            token=values.token,
            license_text=values.license_text,
            password=values.password,
        )
    except secrets.SecretMissing as error:
        raise RunError(str(error), reason=error.reason, transient=error.transient) from None
    except secrets.SecretInvalid as error:
        raise RunError(str(error), reason=error.reason, transient=error.transient) from None
    except derivation.DerivationError as error:
        raise RunError(str(error), reason=error.reason, transient=False) from None
    return _Pods(
        derived=derived,
        known_failures=[*found.failures, *derived.failures],
        notes=[*found.notes, *derived.notes],
        data_planes=found.data_planes,
        skipped=len(found.skipped),
    )


async def _collected(
    *,
    clients: kube.Clients,
    settings: OperatorSettings,
    spec: v1alpha1.Spec,
    pods: _Pods,
    tls: _AdminTLS,
    now: datetime.datetime | None,
    metered: aggregation.Metered | None,
) -> tuple[models.Collection, v1alpha1.DerivedSettings | None]:
    """The collection, and what was derived (the datastore's route said). The targets and
    routes die with this call, before the report is packaged."""
    derived = pods.derived
    forwarded = bool(derived.forwards)
    admin_api = _admin_api(
        spec,
        tls,
        token=derived.token,
        forwarded=forwarded,
        plain_direct=any(
            t.url.startswith("http:") and t.name not in derived.forwards for t in derived.targets
        ),
    )
    try:
        hash_key = await secrets.installation_key(
            clients=clients, namespace=settings.namespace, name=settings.hash_key_secret
        )
    except secrets.SecretInvalid as error:
        raise RunError(str(error), reason=errors.Reason.INVALID_HASH_KEY, transient=False) from None

    connection = portforward.Connection(
        configuration=clients.api.configuration, user_agent=kube.USER_AGENT
    )
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(tunnels.Pool(connection=connection))
        read = await _route_datastore(
            stack=stack, clients=clients, settings=settings, derived=derived
        )
        routes = _forward_routes(pool=pool, derived=derived, tls=tls.forwarded)
        admin_api = dataclasses.replace(admin_api, routes=routes)
        wanted = collection.Request(
            targets=derived.targets,
            hash_key=hash_key,
            admin_api=admin_api,
            database=read.settings,
            license_text=derived.license_text,
            format=spec.report.chosen_format,
            months=spec.report.months,
            hash_names=spec.report.hash_names,
            now=now,
            known_failures=pods.known_failures,
            notes=pods.notes,
            data_planes=pods.data_planes,
            datastore_unread=read.unread,
            metered=metered,
        )
        try:
            result = await _collect(wanted, spec)
        except datastore.DatastoreError as error:
            # Connected along the route but refused or silent (a NetworkPolicy, nothing
            # listening in the pod): the pods' own datastore falls back like no route.
            # A port-forward's own failure says more than psycopg's closed connection.
            cause = (read.route.failure if read.route else None) or error
            if read.route is None or cause.reason not in datastore_route.UNREACHABLE:
                raise
            read = _Datastore(settings=None, unread=_unread(cause))
            wanted = dataclasses.replace(wanted, database=None, datastore_unread=read.unread)
            result = await _collect(wanted, spec)
    return result, _described(derived, read)


async def run(
    *,
    clients: kube.Clients,
    settings: OperatorSettings,
    namespace: str,
    name: str,
    uid: str,
    run_id: str,
    spec: v1alpha1.Spec,
    now: datetime.datetime | None = None,
    history: str | None = None,
) -> RunOutcome:
    """Collect and write the report; ``history``: also keep it as that ConfigMap (a schedule's).

    Every failure is an ``errors.ReportError``, the Kubernetes API's refusals
    (``kube.ApiError``) included.
    """
    values = await _read_secrets(clients=clients, namespace=namespace, spec=spec)
    # A bad CA or client certificate fails before any call.
    tls = _admin_tls(spec, values, namespace=namespace)
    signing_key = _signing_key(spec, values, namespace=namespace)
    pods = await _pods(clients=clients, namespace=namespace, spec=spec, values=values)
    metered = await _metered(
        clients=clients,
        namespace=namespace,
        spec=spec,
        now=now or datetime.datetime.now(datetime.UTC),
    )
    result, described = await _collected(
        clients=clients,
        settings=settings,
        spec=spec,
        pods=pods,
        tls=tls,
        now=now,
        metered=metered,
    )
    skipped = pods.skipped
    # Only the collection is needed from here: the targets go before nodes.json is packaged.
    del pods
    package = packaging.package(result, signing_key=signing_key)
    config_map = output.config_map_name(request=name, spec=spec)
    try:
        layout = output.layout(
            name=config_map,
            namespace=namespace,
            request=name,
            uid=uid,
            run=run_id,
            package=package,
            budget=settings.config_map_budget,
        )
        if history is not None:
            kept = output.history_copy(layout, name=history)
            await output.write_history(clients=clients, config_map=kept, uid=uid)
            layout.main["metadata"]["annotations"][output.LATEST_ANNOTATION] = history
        await output.write(clients=clients, layout=layout, uid=uid)
    except output.NotOurs as error:
        raise RunError(str(error), reason=error.reason, transient=False) from None
    return RunOutcome(
        collection=result,
        package=package,
        config_map=config_map,
        skipped=skipped,
        derived=described,
    )
