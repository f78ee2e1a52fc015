"""Keyed hashes: stable for one key, different for another, never the raw value."""

from __future__ import annotations

import json

import pytest

from license_report.report import aggregation, hashing, packaging
from tests.helpers.observations import ObservationFactory, inputs


def test_same_key_same_identifier_other_key_other_identifier() -> None:
    one, other = b"1" * 32, b"2" * 32
    assert hashing.keyed_hash(key=one, value="gw-1") == hashing.keyed_hash(key=one, value="gw-1")
    assert hashing.keyed_hash(key=one, value="gw-1") != hashing.keyed_hash(key=other, value="gw-1")
    assert hashing.keyed_hash(key=one, value="gw-1") != hashing.keyed_hash(key=one, value="gw-2")


def test_known_vector() -> None:
    # RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
    assert (
        hashing.keyed_hash(key=b"Jefe", value="what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_short_keys_are_refused() -> None:
    with pytest.raises(hashing.HashKeyError, match="at least 16"):
        hashing.check_key(b"short\n")
    assert hashing.check_key(hashing.new_key() + b"\n") != b""


def test_raw_hostnames_never_reach_the_files(node: ObservationFactory) -> None:
    observations = [
        node("gw-a", host="machine-1.internal"),
        node("gw-b", host="machine-2.internal"),
    ]
    files = packaging.package(aggregation.aggregate(inputs(observations)))
    text = (files.report_json + files.nodes_json + files.tar_bytes).decode("latin-1")
    for raw in ("gw-a-hostname", "gw-b-hostname", "machine-1.internal", "machine-2.internal"):
        assert raw not in text
    nodes = json.loads(files.nodes_json)
    assert {n["hostname"] for n in nodes} == {
        hashing.keyed_hash(key=b"k" * 32, value="gw-a-hostname"),
        hashing.keyed_hash(key=b"k" * 32, value="gw-b-hostname"),
    }
