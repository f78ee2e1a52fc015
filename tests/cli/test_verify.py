"""``license-report collect --format kong-3.5 --signing-key`` and ``license-report verify``,
run as a user runs them."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.helpers.cli import Runner


def _nodes(fleet: dict[str, Any]) -> list[str]:
    return [arg for n in fleet["nodes"] for arg in ("--node", f"{n['name']}={n['url']}")]


def _key_file(
    path: pathlib.Path, key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
) -> pathlib.Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _public_file(path: pathlib.Path, key: ed25519.Ed25519PrivateKey) -> pathlib.Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _verify_signed(
    cli: Runner, report: pathlib.Path, *, out: pathlib.Path, public_key: pathlib.Path
) -> subprocess.CompletedProcess[str]:
    """``verify`` of ``report`` (the JSON or its tar) against the signature ``collect`` wrote in
    ``out``, trusting ``public_key`` rather than the copy shipped beside the report."""
    signature = str(out / "report.json.sig")
    return cli("verify", str(report), "--signature", signature, "--public-key", str(public_key))


@pytest.fixture
def signed(
    cli: Runner, db_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> tuple[pathlib.Path, pathlib.Path]:
    """A kong-3.5 report signed by a key whose public half is kept apart: (out, trusted.pub)."""
    key = ed25519.Ed25519PrivateKey.generate()
    key_file = _key_file(tmp_path / "signing.pem", key)
    out = tmp_path / "out"
    done = cli(
        "collect", *_nodes(db_fleet), "--format", "kong-3.5",
        "--signing-key", str(key_file), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "format kong-3.5, signed (Ed25519)" in done.stdout
    return out, _public_file(tmp_path / "trusted.pub", key)


def test_collect_writes_a_kong_3_5_report_its_signature_and_public_key(
    signed: tuple[pathlib.Path, pathlib.Path],
) -> None:
    out, trusted = signed
    report = json.loads((out / "report.json").read_text())
    # Nodes flushed 100, 101 and 102 this month and 1 each before Kong 2.7 into one table.
    assert report["counters"]["total_requests"] == 306
    assert report["deployment_info"] == {"type": "traditional"}
    assert len(report["checksum"]) == 40
    assert (out / "report.json.pub").read_bytes() == trusted.read_bytes()
    assert len((out / "report.json.sig").read_text().strip()) == 88  # base64 of 64 bytes


def test_verify_accepts_the_report_and_its_tar(
    cli: Runner, signed: tuple[pathlib.Path, pathlib.Path]
) -> None:
    out, trusted = signed
    (tar,) = out.glob("report-*.tar")
    for report in (out / "report.json", tar):
        done = _verify_signed(cli, report, out=out, public_key=trusted)
        assert done.returncode == 0, done.stderr
        assert "signature: OK" in done.stdout
        assert "checksum: OK" in done.stdout
        assert f"{report}: valid" in done.stdout


def test_verify_rejects_a_report_with_one_byte_changed(
    cli: Runner, signed: tuple[pathlib.Path, pathlib.Path]
) -> None:
    out, trusted = signed
    original = (out / "report.json").read_bytes()
    changed = original.replace(b'"total_requests": 306', b'"total_requests": 206')
    assert len(changed) == len(original)
    assert sum(a != b for a, b in zip(original, changed, strict=True)) == 1
    (out / "report.json").write_bytes(changed)
    done = _verify_signed(cli, out / "report.json", out=out, public_key=trusted)
    assert done.returncode == 1
    assert "signature: FAILED" in done.stderr
    assert "checksum: FAILED" in done.stderr
    assert "is NOT valid" in done.stderr


def test_verify_checks_a_kong_3_5_report_without_counters(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    # DB-less: Kong's report has no counters, nor ours; the checksum still covers the rest.
    out = tmp_path / "out"
    done = cli("collect", *_nodes(dbless_fleet), "--format", "kong-3.5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert "counters" not in report
    assert report["deployment_info"] == {"type": "dbless"}
    verified = cli("verify", str(out / "report.json"))
    assert verified.returncode == 0, verified.stderr
    assert "checksum: OK" in verified.stdout


def test_the_checksum_alone_catches_a_modified_kong_3_5_report(
    cli: Runner, signed: tuple[pathlib.Path, pathlib.Path]
) -> None:
    out, _ = signed
    assert cli("verify", str(out / "report.json")).returncode == 0
    report = json.loads((out / "report.json").read_text())
    report["routes_count"] += 1
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    done = cli("verify", str(out / "report.json"))
    assert done.returncode == 1
    assert "checksum: FAILED" in done.stderr


def test_verify_rejects_a_signature_under_another_key(
    cli: Runner, signed: tuple[pathlib.Path, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    out, _ = signed
    other = _public_file(tmp_path / "other.pub", ed25519.Ed25519PrivateKey.generate())
    done = _verify_signed(cli, out / "report.json", out=out, public_key=other)
    assert done.returncode == 1
    assert "signed with another key" in done.stderr
    assert "checksum: OK" in done.stdout  # the content itself is intact


def test_nothing_to_verify_and_half_the_flags_are_usage_errors(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "out"
    assert cli("collect", *_nodes(dbless_fleet), "--out", str(out)).returncode == 0
    done = cli("verify", str(out / "report.json"))
    assert done.returncode == 2
    assert "nothing to verify" in done.stderr
    done = cli("verify", str(out / "report.json"), "--signature", str(out / "report.json"))
    assert done.returncode == 2
    assert "go together" in done.stderr
    done = cli("verify", str(out / "nodes.json.missing"))
    assert done.returncode == 2
    assert "cannot read the report" in done.stderr


def test_collect_refuses_a_bad_signing_key_and_a_3_5_window_other_than_kongs(
    cli: Runner, dbless_fleet: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    rsa_key = _key_file(
        tmp_path / "rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    done = cli(
        "collect", *_nodes(dbless_fleet), "--signing-key", str(rsa_key), "--out", str(tmp_path)
    )
    assert done.returncode == 2
    assert f"the signing key file {rsa_key} holds an RSA key" in done.stderr
    body = rsa_key.read_text().splitlines()[1]
    assert body not in done.stderr + done.stdout
    assert not (tmp_path / "report.json").exists()

    done = cli(
        "collect", *_nodes(dbless_fleet), "--format", "kong-3.5", "--months", "24",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert "12 months" in done.stderr
