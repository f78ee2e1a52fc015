"""Whatever a gateway node or a license Secret holds, the answer is a value or a named error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from license_report.api import errors
from license_report.report import admin_api
from license_report.sources import kong, license

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["version", "edition", "hostname", "node_id", "configuration", "database", "server",
     "total_requests", "counters", "bucket", "request_count", "system_info", "cores", "data",
     "next", "license", "payload", "license_key", "license_expiration_date"]
)  # fmt: skip
# Bodies shaped like Kong's, with the right keys and wrong or odd values.
KONG_LIKE = st.recursive(
    JSON, lambda children: st.dictionaries(KEYS, children, max_size=6), max_leaves=30
)
BODIES = st.binary(max_size=200) | JSON.map(json.dumps) | KONG_LIKE.map(json.dumps)
MODELS = st.sampled_from(
    [admin_api.NodeInfo, admin_api.NodeStatus, admin_api.NodeLicenseReport, admin_api.Page]
)


def _as_bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else str(body).encode()


@settings(max_examples=500, deadline=None)
@given(BODIES, MODELS)
def test_an_admin_api_body_parses_or_is_a_bad_response(body: Any, model: Any) -> None:
    outcome: Any
    try:
        outcome = kong.parse_body(_as_bytes(body), model, what="GET /")
    except kong.NodeError as error:  # anything else escapes and fails the test
        outcome = error
    if isinstance(outcome, kong.NodeError):
        assert outcome.reason is errors.Reason.BAD_RESPONSE
        assert outcome.message.startswith("GET /: ")
    else:
        assert isinstance(outcome, model)


@settings(max_examples=500, deadline=None)
@given(BODIES)
def test_a_license_parses_or_is_a_license_error_that_echoes_nothing(body: Any) -> None:
    outcome: Any
    try:
        outcome = license.parse(_as_bytes(body))
    except license.LicenseError as error:  # anything else escapes and fails the test
        outcome = error
    if isinstance(outcome, license.LicenseError):
        assert str(outcome).startswith("the license is not")
        assert outcome.__cause__ is None  # no chained exception carrying the content
    else:
        assert outcome.license_key
