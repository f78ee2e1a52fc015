"""Kubernetes Events about a request, posted with our own client.

One path for the request handler and the schedule's daemon alike (a daemon's
runs are not kopf handler calls, where ``kopf.event`` would work), stamped
with the operator's clock. The body is the one kopf and client-go post (core
v1, ``generateName`` from the object's name). An Event that cannot be posted
is logged, never a reason to fail a run.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

from license_report.reconcile import kube, statuses

logger = logging.getLogger(__name__)
COMPONENT = "license-report-operator"


def body(
    obj: Mapping[str, Any], *, type_: str, reason: str, message: str, now: datetime.datetime
) -> dict[str, Any]:
    meta = obj["metadata"]
    stamp = statuses.timestamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post(
    clients: kube.Clients,
    obj: Mapping[str, Any],
    *,
    type_: str,
    reason: str,
    message: str,
    now: datetime.datetime,
) -> None:
    event = body(obj, type_=type_, reason=reason, message=message, now=now)
    try:
        await kube.call(clients.core.create_namespaced_event, obj["metadata"]["namespace"], event)
    except kube.ApiError as error:
        logger.warning("could not post the Event %s: %s", reason, error.message)
