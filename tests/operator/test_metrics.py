"""Prometheus metrics of ``license-report run``, scraped from its ``--metrics-address`` as
Prometheus would: runs by result, retries by reason, durations, the per-request gauges,
and those gauges gone with their request (and back from the status after a restart)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import prometheus_client
from prometheus_client import parser

from license_report.handlers import metrics
from license_report.reconcile import kube
from license_report_sandbox import kubeapi
from tests.helpers.cluster import (
    OperatorProcess,
    create,
    delete,
    deploy,
    gateway_nodes,
    get,
    request,
    wait_for,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

#: (sample name, its labels as sorted pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> tuple[Samples, dict[str, str]]:
    """One scrape, as Prometheus makes it."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return parse(await response.text())


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """The samples, and each family's type, through prometheus_client's own parser."""
    samples: Samples = {}
    types = {}
    for family in parser.text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples, types


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


def labelsets(samples: Samples, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of this name."""
    return [dict(labels) for sample, labels in samples if sample == name]


def of_request(samples: Samples, name: str, request_name: str) -> list[dict[str, str]]:
    return [labels for labels in labelsets(samples, name) if labels["name"] == request_name]


def completed_at(obj: Mapping[str, Any]) -> float:
    return datetime.datetime.fromisoformat(obj["status"]["completedAt"]).timestamp()


async def test_runs_retries_durations_and_request_gauges_are_scraped_and_forgotten(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator_process: OperatorProcess,
    fleet: FleetFactory,
) -> None:
    """A Succeeded, a Degraded and a Failed request (the last after retrying a missing
    Secret for --retry-seconds 5): each counted once by result, the retries by reason,
    durations in the histogram, gauges for the two that wrote a report, the last-success
    time only for the Succeeded one; deleting a request takes its series away."""
    await operator_process.start()
    samples, types = await scrape(operator_process.metrics_url)
    # Every result is there from the start, at zero; nothing per request yet.
    for result in ("succeeded", "degraded", "failed"):
        assert value(samples, "license_report_runs_total", result=result) == 0
        assert value(samples, "license_report_run_duration_seconds_count", result=result) == 0
    assert types["license_report_runs"] == "counter"
    assert types["license_report_run_retries"] == "counter"
    assert types["license_report_run_duration_seconds"] == "histogram"
    assert types["license_report_last_success_timestamp_seconds"] == "gauge"
    assert types["license_report_gateway_pods"] == "gauge"
    assert not [key for key in samples if ("namespace", "kong") in key[1]]

    before = time.time()
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        # Matched by "partial" (name=kong only) and not by "good" (name and instance).
        api.put(
            kubeapi.make_pod(
                "gw-starting",
                "kong",
                labels={"app.kubernetes.io/name": "kong"},
                ip="127.0.0.99",
                ready=False,
            )
        )
        await create(clients, request("good"))
        partial = request("partial")
        partial["spec"]["gateway"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "kong"}}
        await create(clients, partial)
        broken = request("broken")
        broken["spec"]["license"] = {"secretRef": {"name": "no-such-license"}}
        await create(clients, broken)
        good = await wait_phase(clients, "good", {"Succeeded"})
        await wait_phase(clients, "partial", {"Degraded"})
        failed = await wait_phase(clients, "broken", {"Failed"}, timeout=30)
    after = time.time()
    (condition,) = [c for c in failed["status"]["conditions"] if c["type"] == "Failed"]
    assert condition["reason"] == "SecretNotFound"

    samples, _ = await scrape(operator_process.metrics_url)
    runs = {
        result: value(samples, "license_report_runs_total", result=result)
        for result in ("succeeded", "degraded", "failed")
    }
    assert runs == {"succeeded": 1, "degraded": 1, "failed": 1}
    # Retried attempts are counted apart, by reason; never as runs.
    assert labelsets(samples, "license_report_run_retries_total") == [{"reason": "SecretNotFound"}]
    retries = value(samples, "license_report_run_retries_total", reason="SecretNotFound")
    assert retries is not None
    assert retries >= 1
    for result in ("succeeded", "degraded", "failed"):
        assert value(samples, "license_report_run_duration_seconds_count", result=result) == 1
        assert (
            value(samples, "license_report_run_duration_seconds_bucket", result=result, le="+Inf")
            == 1
        )
    # A duration counts from the run's first attempt: the failed one spent the retry budget.
    failed_seconds = value(samples, "license_report_run_duration_seconds_sum", result="failed")
    assert failed_seconds is not None
    assert 5.0 <= failed_seconds <= after - before
    assert (
        value(samples, "license_report_run_duration_seconds_bucket", result="failed", le="5.0") == 0
    )
    good_seconds = value(samples, "license_report_run_duration_seconds_sum", result="succeeded")
    assert good_seconds is not None
    assert 0 < good_seconds < 5.0

    # The last success time: only the Succeeded request has one, its status' completedAt.
    assert labelsets(samples, "license_report_last_success_timestamp_seconds") == [
        {"namespace": "kong", "name": "good"}
    ]
    last_success = value(
        samples, "license_report_last_success_timestamp_seconds", namespace="kong", name="good"
    )
    assert last_success is not None
    assert before <= last_success <= after
    assert abs(last_success - completed_at(good)) < 2
    # Pods of each report written; the failed request wrote none, so it has no figures.
    pods = {
        (labels["name"], labels["state"]): value(samples, "license_report_gateway_pods", **labels)
        for labels in labelsets(samples, "license_report_gateway_pods")
    }
    assert pods == {
        ("good", "reached"): 2,
        ("good", "failed"): 0,
        ("partial", "reached"): 2,
        ("partial", "failed"): 1,
    }
    # No pod name in any label: a fleet's size never becomes the number of series.
    assert not [key for key in samples if any(v.startswith("gw-") for _label, v in key[1])]

    await delete(clients, "good")
    await delete(clients, "broken")

    async def good_forgotten() -> Samples | None:
        scraped, _ = await scrape(operator_process.metrics_url)
        return None if of_request(scraped, "license_report_gateway_pods", "good") else scraped

    samples = await wait_for(good_forgotten, what="the deleted request's series to go")
    assert labelsets(samples, "license_report_last_success_timestamp_seconds") == []
    # The other request keeps its series; the counters keep what happened.
    assert len(of_request(samples, "license_report_gateway_pods", "partial")) == 2
    assert value(samples, "license_report_runs_total", result="succeeded") == 1
    assert value(samples, "license_report_run_duration_seconds_count", result="failed") == 1


async def test_a_restarted_operator_takes_the_request_gauges_from_the_status(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator_process: OperatorProcess,
    fleet: FleetFactory,
) -> None:
    """Killed after a report, the next operator does not run it again (no run counted) but
    shows its last success time (the status' completedAt) and pod figures at once, instead
    of nothing until the next run."""
    async with fleet(gateway_nodes()) as running:
        deploy(api, running)
        await operator_process.start()
        await create(clients, request("monthly"))
        done = await wait_phase(clients, "monthly", {"Succeeded"})
        await operator_process.kill()
        await operator_process.start()

        async def restored() -> Samples | None:
            scraped, _ = await scrape(operator_process.metrics_url)
            found = of_request(scraped, "license_report_last_success_timestamp_seconds", "monthly")
            return scraped if found else None

        samples = await wait_for(restored, what="the request's gauges after the restart")
    stamp = value(
        samples, "license_report_last_success_timestamp_seconds", namespace="kong", name="monthly"
    )
    assert stamp == completed_at(done)
    for state, pods in (("reached", 2), ("failed", 0)):
        gauge = value(
            samples, "license_report_gateway_pods", namespace="kong", name="monthly", state=state
        )
        assert gauge == pods
    assert value(samples, "license_report_runs_total", result="succeeded") == 0
    assert (await get(clients, "monthly"))["status"]["completedAt"] == done["status"]["completedAt"]


def test_two_operators_in_one_process_keep_their_own_metrics() -> None:
    """As the tests and the sandbox run them: each its own registry, none in the global one."""
    first, second = metrics.Metrics(), metrics.Metrics()
    metrics.observe_run(
        first, namespace="kong", name="a", result="succeeded", duration=1.0, reached=3, failed=0
    )

    def parsed(registry: prometheus_client.CollectorRegistry) -> Samples:
        return parse(prometheus_client.generate_latest(registry).decode())[0]

    assert value(parsed(first.registry), "license_report_runs_total", result="succeeded") == 1
    assert value(parsed(second.registry), "license_report_runs_total", result="succeeded") == 0
    assert labelsets(parsed(second.registry), "license_report_gateway_pods") == []
    assert not [
        family.name
        for family in prometheus_client.REGISTRY.collect()
        if family.name.startswith("license_report")
    ]
