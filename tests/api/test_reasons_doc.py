"""docs/reasons.md lists every reason the operator writes, with the meaning the code gives it."""

from __future__ import annotations

import pathlib
import re

from license_report.api import errors

DOC = pathlib.Path(__file__).parents[2] / "docs" / "reasons.md"
ROW = re.compile(
    r"^\| `(?P<reason>[A-Za-z]+)` "
    r"\| (?P<meaning>[^|]+) \| (?P<retried>[^|]+) \| (?P<todo>[^|]+) \|$"
)


def _table() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match is not None:
            assert match["reason"] not in rows, f"{match['reason']} is listed twice"
            rows[match["reason"]] = (
                match["meaning"].strip(),
                match["retried"].strip(),
                match["todo"].strip(),
            )
    return rows


def test_the_document_lists_exactly_the_reasons_in_the_code() -> None:
    assert sorted(_table()) == sorted(reason.value for reason in errors.Reason)


def test_each_reason_means_in_the_document_what_it_means_in_the_code() -> None:
    table = _table()
    wrong = {
        reason.value: (table[reason.value][0], reason.meaning)
        for reason in errors.Reason
        if reason.value in table and table[reason.value][0] != reason.meaning
    }
    assert wrong == {}


def test_every_reason_says_whether_it_is_retried_and_what_to_do() -> None:
    for reason, (_meaning, retried, todo) in _table().items():
        assert retried in {"yes", "no", "next run", "—"} or reason == "ApiError", reason
        assert todo, reason
    for reason in errors.Reason:
        assert reason.meaning, reason  # every member gives its one-line meaning


def test_reasons_are_camel_case_constants_as_kubernetes_spells_them() -> None:
    for reason in errors.Reason:
        assert re.fullmatch(r"[A-Z][A-Za-z]*", reason.value), reason
