"""One default, one value: the CLI, the API models and the clients agree (issue 11).

``api/defaults.py`` names each default once; these tests fail when a flag, a
model field or a client setting goes back to a figure of its own.
"""

from __future__ import annotations

import kubernetes
import pytest

from license_report.api import defaults, v1alpha1
from license_report.cli import collect, main
from license_report.reconcile import collection, derivation, discovery, kube
from license_report.report import formats
from license_report.sources import datastore, kong


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MONTHS", "TIMEOUT", "CONCURRENCY", "FORMAT", "HASH_NAMES"):
        monkeypatch.delenv(collect.ENV_PREFIX + name, raising=False)


def test_collect_flags_default_to_what_the_operator_uses() -> None:
    args = main.parser(plugins=False).parse_args(["collect"])
    spec = v1alpha1.Spec.model_validate({"gateway": {"selector": {"matchLabels": {"a": "b"}}}})
    client = kong.ClientSettings()
    assert args.timeout == spec.gateway.admin_api.timeout_seconds == client.timeout
    assert args.concurrency == spec.gateway.max_concurrency == client.max_concurrency
    request = collection.Request(targets=[], hash_key=b"")
    # No months: the format's Kong window (24 for kong-2.7, 12 for kong-3.5).
    assert args.months is spec.report.months is request.months is None
    assert args.format == spec.report.chosen_format == request.format == formats.AUTO
    assert args.hash_names is spec.report.hash_names is request.hash_names is True


def test_collect_help_states_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main.main(["collect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {defaults.ADMIN_API_TIMEOUT_SECONDS:g})" in text
    assert f"at once (default {defaults.MAX_CONCURRENCY})" in text
    assert f"included (default {defaults.REPORT_MONTHS}, as Kong 2.7-3.4" in text
    assert "(default: on)" in text


def test_run_flags_default_to_the_operator_defaults() -> None:
    args = main.parser(plugins=False).parse_args(["run"])
    assert args.hash_key_secret == defaults.HASH_KEY_SECRET
    assert args.retry_seconds == defaults.RETRY_SECONDS


async def test_a_datastore_given_by_host_alone_gets_the_client_s_defaults() -> None:
    # The CRD has no defaults for what can be derived; the run fills them in from
    # api/defaults.py, as the CLI's --datastore does.
    spec = v1alpha1.Spec.model_validate(
        {
            "gateway": {"selector": {"matchLabels": {"a": "b"}}},
            "datastore": {"postgres": {"host": "db"}},
        }
    )
    derived = await derivation.derive(
        clients=kube.Clients.from_api_client(kubernetes.client.ApiClient()),
        spec=spec,
        found=discovery.Discovery(targets=[], failures=[], notes=[]),
        token=None,
        license_text=None,
        password=None,
    )
    assert derived.database == datastore.DatastoreSettings(host="db")
    assert derived.status is None  # nothing came from a pod


def test_the_format_choices_are_the_report_formats() -> None:
    assert tuple(str(f) for f in formats.Format) == collect.FORMATS
