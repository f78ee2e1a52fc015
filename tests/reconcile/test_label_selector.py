"""The selector goes to the API server as a label selector string."""

from __future__ import annotations

from license_report.api import v1alpha1
from license_report.reconcile import discovery


def test_match_labels_and_expressions() -> None:
    selector = v1alpha1.LabelSelector.model_validate(
        {
            "matchLabels": {"app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "gw"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "NotIn", "values": ["true"]},
                {"key": "app.kubernetes.io/component", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert discovery.label_selector(selector) == (
        "app.kubernetes.io/instance=gw,app.kubernetes.io/name=kong,"
        "tier in (a,b),canary notin (true),app.kubernetes.io/component,!legacy"
    )
