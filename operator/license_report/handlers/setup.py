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


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=v1alpha1.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=v1alpha1.GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{v1alpha1.GROUP}/finalizer"
    settings.posting.level = logging.WARNING
    # Report runs are short; let kopf retry a failed watch quickly.
    settings.watching.reconnect_backoff = 1.0


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    configuration = operator_context.of(memo).clients.api.configuration
    authorization = (configuration.api_key or {}).get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
