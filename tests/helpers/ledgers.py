"""The ledger's ConfigMap writes as kmock sees them, and the refusals tests answer them with."""

from __future__ import annotations

import kmock


def writing_ledgers(request: kmock.Request) -> bool:
    """A ConfigMap create or replace: the ledger's writes (nothing else writes ConfigMaps
    in these tests)."""
    return (
        request.resource is not None
        and request.resource.plural == "configmaps"
        and request.method in (kmock.method.PUT, kmock.method.POST)
    )


def refusal(status: int) -> kmock.KubernetesError:
    """The API server refusing with ``status`` (409 Conflict, 504 Timeout, else 500)."""
    reason = {409: "Conflict", 504: "Timeout"}.get(status, "InternalError")
    # Details given, or kmock would fill them with its traceback.
    details = {"causes": [{"reason": reason, "message": reason}]}
    return kmock.KubernetesError(status=status, reason=reason, message=reason, details=details)
