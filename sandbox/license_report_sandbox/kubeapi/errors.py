"""The API server's failures, as kmock errors carrying a Kubernetes ``Status`` body.

kmock renders a `kmock.KubernetesError` as ``{"kind": "Status", "code", "reason",
"message", "details"}`` with the HTTP status; the reasons and message wording
here are the real server's (``configmaps "x" not found``), so clients that
branch on ``reason`` or print ``message`` (kubectl, kopf) behave as in a cluster.
"""

from __future__ import annotations

from typing import Any

import kmock

from license_report_sandbox.kubeapi import resources


def _details(kind: resources.Kind | None, name: str | None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = dict(extra)
    if name:
        details["name"] = name
    if kind is not None:
        details["group"] = kind.group
        details["kind"] = kind.plural
    return details


def not_found(kind: resources.Kind, name: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=404,
        reason="NotFound",
        message=f'{kind.qualified} "{name}" not found',
        details=_details(kind, name),
    )


def no_such_path(path: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=404,
        reason="NotFound",
        message=f"the server could not find the requested resource ({path})",
        details={
            "causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]
        },
    )


def already_exists(kind: resources.Kind, name: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=409,
        reason="AlreadyExists",
        message=f'{kind.qualified} "{name}" already exists',
        details=_details(kind, name),
    )


def conflict(kind: resources.Kind, name: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=409,
        reason="Conflict",
        message=(
            f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been'
            " modified; please apply your changes to the latest version and try again"
        ),
        details=_details(kind, name),
    )


def precondition_failed(kind: resources.Kind, name: str, what: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=409,
        reason="Conflict",
        message=f'Operation cannot be fulfilled on {kind.qualified} "{name}": {what}',
        details=_details(kind, name),
    )


def invalid(kind: resources.Kind, name: str, field: str, message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=422,
        reason="Invalid",
        message=f'{kind.kind} "{name}" is invalid: {field}: {message}',
        details=_details(
            kind, name, causes=[{"reason": "FieldValueInvalid", "message": message, "field": field}]
        ),
    )


def forbidden(kind: resources.Kind, name: str, why: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=403,
        reason="Forbidden",
        message=f'{kind.qualified} "{name}" is forbidden: {why}',
        details=_details(kind, name),
    )


def _causes(message: str) -> dict[str, Any]:
    # Never empty: kmock replaces empty details with a Python traceback.
    return {"causes": [{"message": message}]}


def bad_request(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=400, reason="BadRequest", message=message, details=_causes(message)
    )


def unprocessable(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=422, reason="Invalid", message=message, details=_causes(message)
    )


def method_not_allowed(what: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=405,
        reason="MethodNotAllowed",
        message=f"the server does not allow this method on the requested resource ({what})",
        details=_causes(what),
    )


def unsupported_media_type(content_type: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=415,
        reason="UnsupportedMediaType",
        message=f"the body of the request was in an unknown format - accepted media types"
        f" include: application/json-patch+json, application/merge-patch+json,"
        f" application/apply-patch+yaml, application/strategic-merge-patch+json"
        f" (got {content_type or 'none'})",
        details=_causes(content_type or "no Content-Type"),
    )


def gone(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=410, reason="Expired", message=message, details=_causes(message)
    )


def too_large() -> kmock.KubernetesError:
    """What a write past etcd's request limit gets: etcd's own words, as a 500."""
    message = "etcdserver: request is too large"
    return kmock.KubernetesError(
        status=500, reason="InternalError", message=message, details=_causes(message)
    )


def status_body(error: kmock.KubernetesError) -> dict[str, Any]:
    """The ``Status`` object itself (for an ``ERROR`` watch event)."""
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": error.status,
        "reason": error.reason,
        "message": error.message,
        "details": error.details or {},
    }


def unauthorized() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": 401,
        "reason": "Unauthorized",
        "message": "Unauthorized",
    }
