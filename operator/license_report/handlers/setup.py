"""Operator-wide kopf configuration: storage of kopf's own state, events, login.

kopf keeps its progress and last-handled state in our annotations (not in
``status``, which our CRD's schema does not let it write), posts Events only
for what we post explicitly or for warnings, and logs in to the API server
with the same credentials as our own client.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from license_report.api import v1alpha1
from license_report.handlers import context as operator_context

# kopf leaves annotations under its own prefix out of the change detection:
# this must not be the API group, or the rerun annotation would go unseen.
KOPF_PREFIX = f"kopf.{v1alpha1.GROUP}"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{KOPF_PREFIX}/finalizer"
    settings.posting.level = logging.WARNING
    # With namespaces given, the chart grants no access to namespaces: kopf must
    # take the names as they are instead of scanning for them. Cluster-wide,
    # scanning stays on so that a CRD installed after the operator is noticed.
    settings.scanning.disabled = bool(operator_context.of(memo).namespaces)
    # Report runs are short; let kopf retry a failed watch quickly.
    settings.watching.reconnect_backoff = 1.0


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    configuration = operator_context.of(memo).clients.api.configuration
    # The Authorization header our client would send ("Bearer <token>"),
    # whichever way the client version keeps the key and its prefix.
    headers = [
        entry["value"]
        for entry in configuration.auth_settings().values()
        if entry.get("in") == "header"
        and entry.get("key", "").lower() == "authorization"
        and entry.get("value")
    ]
    scheme, _sep, token = (headers[0] if headers else "").partition(" ")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
