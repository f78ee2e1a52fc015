"""The Kubernetes API clients one report run uses, and how to build them.

The synchronous ``kubernetes`` client is used from the event loop only
through ``call()``, which runs it in a worker thread: a slow API server must
never stall kopf's watch streams.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import kubernetes

_T = TypeVar("_T")

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
    """Run a blocking client call in a thread."""
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))
