"""Reading a Kong license: the identifier, the expiry, or a clear error."""

from __future__ import annotations

import datetime
import json

import pytest

from license_report.sources import license

# The example license from Kong's Admin API docs.
KONG_DOC_LICENSE = {
    "license": {
        "payload": {
            "admin_seats": "1",
            "customer": "Example Company, Inc",
            "dataplanes": "1",
            "license_creation_date": "2017-07-20",
            "license_expiration_date": "2017-07-20",
            "license_key": "00141000017ODj3AAG_a1V41000004wT0OEAU",
            "product_subscription": "Konnect Enterprise",
            "support_plan": "None",
        },
        "signature": "6985968131533a967fcc721244a979948b1066967f1e9cd65dbd8eeabe060fc3",
        "version": "1",
    }
}


def test_kongs_documented_license_parses() -> None:
    facts = license.parse(json.dumps(KONG_DOC_LICENSE))
    assert facts.license_key == "00141000017ODj3AAG_a1V41000004wT0OEAU"
    assert facts.expiration_date == datetime.date(2017, 7, 20)
    assert "00141000017ODj3AAG" not in repr(facts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not JSON"),
        ('{"licence": {}}', "license: Field required"),
        (
            '{"license": {"payload": {"customer": "x"}}}',
            "license.payload.license_key: Field required",
        ),
        (
            '{"license": {"payload": {"license_key": "SECRETKEY",'
            ' "license_expiration_date": "soon"}}}',
            "license.payload.license_expiration_date",
        ),
        ('["license"]', "not a Kong license"),
    ],
)
def test_malformed_licenses_say_what_is_wrong_without_echoing_it(text: str, expected: str) -> None:
    with pytest.raises(license.LicenseError) as caught:
        license.parse(text)
    assert expected in str(caught.value)
    assert "SECRETKEY" not in str(caught.value)
    assert caught.value.__cause__ is None
