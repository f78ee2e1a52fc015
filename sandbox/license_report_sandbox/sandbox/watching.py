"""Every change of one LicenseReportRequest, through a watch, as ``kubectl get -w`` sees them.

A poll would miss a phase that lasts less than its interval (a run on
loopback takes a fraction of a second). The ``kubernetes`` client's watch is
blocking, so it runs in a worker thread, in short rounds (the server ends each
after ``_ROUND_SECONDS``) resumed from the last ``resourceVersion``: when the
watch is abandoned the thread notices within a round, rather than holding the
interpreter's exit until a long watch times out.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

import kubernetes

from license_report.api import v1alpha1
from license_report.reconcile import kube

_ROUND_SECONDS = 1

_Item = dict[str, Any] | BaseException


def _watch(
    clients: kube.Clients,
    *,
    namespace: str,
    name: str,
    deliver: Callable[[_Item], None],
    stop: threading.Event,
) -> None:
    version: str | None = None
    try:
        while not stop.is_set():
            watch = kubernetes.watch.Watch()
            try:
                for event in watch.stream(
                    clients.custom.list_namespaced_custom_object,
                    v1alpha1.GROUP,
                    v1alpha1.VERSION,
                    namespace,
                    v1alpha1.PLURAL,
                    field_selector=f"metadata.name={name}",
                    resource_version=version,
                    timeout_seconds=_ROUND_SECONDS,
                ):
                    if stop.is_set():
                        watch.stop()
                        break
                    obj: dict[str, Any] = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    deliver(obj)
            except kube.ApiException as error:
                if error.status != 410:
                    raise
                version = None  # too old to resume from: start again from the current state
    except Exception as error:  # handed to the reader, unless nobody reads any more
        if not stop.is_set():
            deliver(error)


async def changes(
    clients: kube.Clients, *, namespace: str, name: str
) -> AsyncGenerator[dict[str, Any], None]:
    """The object as it is now, then after each change; close it (``aclosing``) when done."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    stop = threading.Event()

    def deliver(item: _Item) -> None:
        if not stop.is_set():
            loop.call_soon_threadsafe(queue.put_nowait, item)

    worker = loop.run_in_executor(
        None,
        lambda: _watch(clients, namespace=namespace, name=name, deliver=deliver, stop=stop),
    )
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Not awaited: it ends within a round; its result (None) is of no interest.
        worker.add_done_callback(lambda done: done.exception())
