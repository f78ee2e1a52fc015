"""Read the Secrets a request names, and the installation hash key.

Only the Secrets named in the spec are read. A missing Secret or key is
``SecretMissing`` (GitOps tools often create Secrets moments after the
request, so callers retry it); values never appear in any message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib

from license_report.api import errors, v1alpha1
from license_report.reconcile import kube
from license_report.report import hashing

HASH_KEY_DATA_KEY = "key"


class SecretMissing(errors.ReportError):
    """Transient: GitOps tools often create a Secret moments after the request naming it."""

    reason = errors.Reason.SECRET_NOT_FOUND
    transient = True

    def __init__(self, *, namespace: str, name: str, key: str | None, field: str) -> None:
        where = f"Secret {namespace}/{name}"
        what = f"{where} not found" if key is None else f"{where} has no key {key!r}"
        super().__init__(f"{what} (named by {field}); create it, the report will be retried")
        self.field = field


class SecretInvalid(errors.ReportError, ValueError):
    reason = errors.Reason.INVALID_SECRET


async def read(
    *,
    clients: kube.Clients,
    namespace: str,
    ref: v1alpha1.SecretKeyRef | v1alpha1.LicenseSecretRef,
    field: str,
) -> str:
    try:
        secret = await kube.call(clients.core.read_namespaced_secret, ref.name, namespace)
    except kube.NotFound:
        raise SecretMissing(namespace=namespace, name=ref.name, key=None, field=field) from None
    encoded = (secret.data or {}).get(ref.key)
    if encoded is None:
        raise SecretMissing(namespace=namespace, name=ref.name, key=ref.key, field=field)
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise SecretInvalid(
            f"Secret {namespace}/{ref.name} key {ref.key!r} (named by {field}) is not UTF-8 text"
        ) from None


async def installation_key(*, clients: kube.Clients, namespace: str, name: str) -> bytes:
    """The hash key, created once (with a random value) when its Secret does not exist.

    Several replicas may race to create it: the loser reads the winner's.
    """
    for _ in range(2):
        try:
            secret = await kube.call(clients.core.read_namespaced_secret, name, namespace)
        except kube.NotFound:
            pass
        else:
            encoded = (secret.data or {}).get(HASH_KEY_DATA_KEY)
            if encoded is None:
                raise SecretInvalid(f"Secret {namespace}/{name} has no key {HASH_KEY_DATA_KEY!r}")
            try:
                return hashing.check_key(base64.b64decode(encoded))
            except (binascii.Error, hashing.HashKeyError) as error:
                raise SecretInvalid(f"Secret {namespace}/{name}: {error}") from None
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "license-report-operator"},
            },
            "type": "Opaque",
            "data": {
                HASH_KEY_DATA_KEY: base64.b64encode(hashing.new_key().hex().encode()).decode()
            },
        }
        # Created by another replica meanwhile: read it.
        with contextlib.suppress(kube.Conflict):
            await kube.call(clients.core.create_namespaced_secret, namespace, body)
    raise SecretInvalid(f"Secret {namespace}/{name} could not be read or created")
