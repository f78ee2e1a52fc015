"""One report run for one request: Secrets, pods, collection, the ConfigMap.

Every way a run can fail is an ``errors.ReportError`` (a ``RunError`` where
this module names the spec field at fault) with a reason, a message naming
the object and field to fix, and whether it is worth retrying (a Secret
GitOps has not created yet, a datastore restarting) or not (a malformed
license, a CA that does not parse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime

from license_report.api import defaults, errors, v1alpha1
from license_report.reconcile import collection, discovery, kube, output, secrets
from license_report.report import models, packaging, signing
from license_report.sources import datastore, kong, license


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


class RunError(errors.ReportError):
    """A run's own verdict on a lower error, the message naming the spec field to fix."""


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    collection: models.Collection
    package: packaging.Package
    config_map: str
    # Matched pods that are not gateways (migrations, completed pods): counted, not failures.
    skipped: int = 0


@dataclasses.dataclass(frozen=True)
class _Secrets:
    token: str | None = dataclasses.field(default=None, repr=False)
    ca: str | None = None
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
    if spec.license:
        wanted["license_text"] = (spec.license.secret_ref, "spec.license.secretRef")
    if spec.datastore and spec.datastore.postgres.password_secret_ref:
        wanted["password"] = (
            spec.datastore.postgres.password_secret_ref,
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


def _admin_api(spec: v1alpha1.Spec, values: _Secrets) -> kong.ClientSettings:
    admin = spec.gateway.admin_api
    tls = None
    if admin.scheme == "https":
        insecure = bool(admin.tls and admin.tls.insecure_skip_verify)
        try:
            tls = kong.tls_context(ca_pem=values.ca, insecure=insecure)
        except kong.ConfigError as error:
            # Only a CA from a Secret can fail to load.
            ref = admin.tls.ca_secret_ref if admin.tls else None
            where = f"Secret {ref.name} key {ref.key!r}" if ref else "the CA"
            raise RunError(
                f"{where} (spec.gateway.adminApi.tls.caSecretRef): {error}",
                reason=errors.Reason.INVALID_CA,
                transient=False,
            ) from None
    return kong.ClientSettings(
        token=values.token,
        timeout=admin.timeout_seconds,
        max_concurrency=spec.gateway.max_concurrency,
        tls=tls,
        server_name=admin.tls.server_name if admin.tls else None,
        allow_token_over_http=admin.allow_token_over_http,
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


def _database(spec: v1alpha1.Spec, values: _Secrets) -> datastore.DatastoreSettings | None:
    if spec.datastore is None:
        return None
    pg = spec.datastore.postgres
    return datastore.DatastoreSettings(
        host=pg.host,
        port=pg.port,
        database=pg.database,
        user=pg.user,
        password=values.password,
        sslmode=pg.ssl_mode,
    )


async def _collect(request: collection.Request, spec: v1alpha1.Spec) -> models.Collection:
    try:
        return await collection.collect(request)
    except collection.CollectionFailed as error:
        named = ", ".join(f"{f.pod} ({f.reason})" for f in error.failures[:10])
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


def backoff(settings: OperatorSettings, retry: int) -> float:
    """The delay before retry number ``retry`` (from 0): doubled each time, capped."""
    return float(min(settings.backoff_seconds * 2**retry, settings.backoff_max_seconds))


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
    admin_api = _admin_api(spec, values)
    signing_key = _signing_key(spec, values, namespace=namespace)
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
        hash_key = await secrets.installation_key(
            clients=clients, namespace=settings.namespace, name=settings.hash_key_secret
        )
    except secrets.SecretInvalid as error:
        raise RunError(str(error), reason=errors.Reason.INVALID_HASH_KEY, transient=False) from None

    result = await _collect(
        collection.Request(
            targets=found.targets,
            hash_key=hash_key,
            admin_api=admin_api,
            database=_database(spec, values),
            license_text=values.license_text,
            format=spec.report.chosen_format,
            months=spec.report.months,
            hash_names=spec.report.hash_names,
            now=now,
            known_failures=found.failures,
            notes=found.notes,
            data_planes=found.data_planes,
        ),
        spec,
    )
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
        collection=result, package=package, config_map=config_map, skipped=len(found.skipped)
    )
