"""The Kubernetes API clients one report run uses, how to build them, and their errors.

The synchronous ``kubernetes`` client is used from the event loop only
through ``call()``, which runs it in a worker thread: a slow API server must
never stall kopf's watch streams.

``call()`` also wraps the client's ``ApiException`` once, as kopf does, in a
class chosen by HTTP status (``NotFound``, ``Conflict``, ...): callers catch
the class they expect, and this is the one module that reads status codes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import kubernetes

from license_report.api import errors

_T = TypeVar("_T")

#: The raw client's exception, for the sandbox's watch streams that do not go through ``call()``.
ApiException = kubernetes.client.ApiException

#: How the operator's own calls show in the API server's audit log.
USER_AGENT = "license-report-operator"


@dataclasses.dataclass(frozen=True)
class Clients:
    api: Any  # kubernetes.client.ApiClient
    core: Any  # kubernetes.client.CoreV1Api
    custom: Any  # kubernetes.client.CustomObjectsApi

    @classmethod
    def from_api_client(cls, api: Any, *, user_agent: str | None = None) -> Clients:
        if user_agent is not None:
            api.user_agent = user_agent
        return cls(
            api=api,
            core=kubernetes.client.CoreV1Api(api),
            custom=kubernetes.client.CustomObjectsApi(api),
        )

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None) -> Clients:
        """From a kubeconfig file, or the in-cluster service account when ``path`` is None
        and the process runs in a pod."""
        if path is None:
            try:
                configuration = kubernetes.client.Configuration()
                kubernetes.config.load_incluster_config(client_configuration=configuration)
                return cls.from_api_client(
                    kubernetes.client.ApiClient(configuration), user_agent=USER_AGENT
                )
            except kubernetes.config.ConfigException:
                pass
        api = kubernetes.config.new_client_from_config(config_file=path, context=context)
        return cls.from_api_client(api, user_agent=USER_AGENT)


async def call(function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """Run a blocking client call in a thread; a refusal raises an ``ApiError`` subclass."""
    try:
        return await asyncio.to_thread(functools.partial(function, *args, **kwargs))
    except kubernetes.client.ApiException as error:
        raise wrap(error) from error


class ApiError(errors.ReportError):
    """The Kubernetes API refused a call; ``transient``: a conflict, throttling or a 5xx,
    which the same call may get through later."""

    reason = errors.Reason.API_ERROR

    def __init__(self, *, status: int, http_reason: str) -> None:
        transient = status in (409, 429) or status >= 500
        super().__init__(f"Kubernetes API answered {status} {http_reason}", transient=transient)
        self.status = status  # for messages and logs; catch a subclass to branch on it
        self.http_reason = http_reason


class Unauthorized(ApiError):
    """401: the operator's credentials were not accepted."""


class Forbidden(ApiError):
    """403: RBAC does not let the operator do this."""


class NotFound(ApiError):
    """404: no such object (or namespace)."""


class Conflict(ApiError):
    """409: the object exists already, or changed since it was read."""


class Gone(ApiError):
    """410: a watch or list continuation that is too old."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
}


def wrap(error: kubernetes.client.ApiException) -> ApiError:
    """The client's exception as the class for its HTTP status (``ApiError`` for others)."""
    status = int(error.status or 0)
    cls = _BY_STATUS.get(status, ApiError)
    return cls(status=status, http_reason=str(error.reason or ""))
