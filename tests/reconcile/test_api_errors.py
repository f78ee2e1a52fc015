"""Kubernetes API refusals are wrapped once, in ``kube.call``, as a class per HTTP status."""

from __future__ import annotations

import kmock
import pytest

from license_report.api import errors
from license_report.reconcile import kube
from license_report_sandbox import kubeapi

NAMESPACE = "kong"  # the one namespace the api fixture of this area's conftest holds


async def test_a_missing_object_is_not_found(clients: kube.Clients) -> None:
    with pytest.raises(kube.NotFound) as caught:
        await kube.call(clients.core.read_namespaced_secret, "absent", NAMESPACE)
    assert caught.value.status == 404
    assert caught.value.reason is errors.Reason.API_ERROR
    assert not caught.value.transient
    assert isinstance(caught.value, errors.ReportError)


async def test_creating_what_exists_is_a_conflict_and_may_pass(clients: kube.Clients) -> None:
    body = {"metadata": {"name": "twice", "namespace": NAMESPACE}, "data": {}}
    await kube.call(clients.core.create_namespaced_config_map, NAMESPACE, body)
    with pytest.raises(kube.Conflict) as caught:
        await kube.call(clients.core.create_namespaced_config_map, NAMESPACE, body)
    assert caught.value.transient


@pytest.mark.parametrize(
    ("status", "cls", "transient"),
    [
        (401, kube.Unauthorized, False),
        (403, kube.Forbidden, False),
        (410, kube.Gone, False),
        (422, kube.ApiError, False),
        (429, kube.ApiError, True),
        (500, kube.ApiError, True),
        (503, kube.ApiError, True),
    ],
)
async def test_each_status_has_its_class_and_transience(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    status: int,
    cls: type[kube.ApiError],
    transient: bool,
) -> None:
    def reading_secrets(request: kmock.Request) -> bool:
        return request.resource is not None and request.resource.plural == "secrets"

    api.emulator[reading_secrets] << status
    with pytest.raises(kube.ApiError) as caught:
        await kube.call(clients.core.read_namespaced_secret, "any", NAMESPACE)
    assert type(caught.value) is cls
    assert caught.value.transient is transient
    assert caught.value.message.startswith(f"Kubernetes API answered {status} ")
