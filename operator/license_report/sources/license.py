"""Read a Kong license: the identifier and expiration date, or UNLICENSED.

A license is JSON: ``{"license": {"payload": {"license_key": ..., "customer":
..., "license_expiration_date": "YYYY-MM-DD", ...}, "signature": ...,
"version": ...}}``. Its content is treated as a secret: error messages say
which field is wrong and never echo what was there.
"""

from __future__ import annotations

import datetime
import json

import pydantic

from license_report.api import errors
from license_report.report import models


class LicenseError(errors.ReportError, ValueError):
    """The license text is not a usable Kong license; the message names the field."""

    reason = errors.Reason.INVALID_LICENSE


class _Payload(pydantic.BaseModel):
    license_key: str = pydantic.Field(min_length=1)
    customer: str | None = None
    license_expiration_date: datetime.date | None = None


class _License(pydantic.BaseModel):
    payload: _Payload
    signature: str | None = None
    version: str | int | None = None


class _Document(pydantic.BaseModel):
    license: _License


def _describe(error: pydantic.ValidationError) -> str:
    # Only locations and pydantic's own wording: ``str(error)`` would quote the input.
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(document)"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def parse(text: str | bytes) -> models.LicenseFacts:
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        # JSONDecodeError's message gives a position, not the content.
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise LicenseError(f"the license is not JSON ({reason})") from None
    try:
        document = _Document.model_validate(raw)
    except pydantic.ValidationError as error:
        raise LicenseError(f"the license is not a Kong license: {_describe(error)}") from None
    payload = document.license.payload
    return models.LicenseFacts(
        license_key=payload.license_key,
        expiration_date=payload.license_expiration_date,
        customer=payload.customer,
    )
