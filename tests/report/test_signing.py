"""Ed25519 signatures of report.json: made, checked, refused, and readable by OpenSSL."""

from __future__ import annotations

import base64
import pathlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from license_report.report import aggregation, formats, packaging, signing
from tests.helpers.observations import ObservationFactory, inputs


def pem(key: object, *, password: bytes | None = None) -> bytes:
    assert isinstance(
        key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def body(key_pem: bytes) -> str:
    """The base64 body of a PEM: the key material itself."""
    return "".join(line for line in key_pem.decode().splitlines() if not line.startswith("-----"))


def test_a_signed_package_verifies_and_one_changed_byte_does_not(
    node: ObservationFactory,
) -> None:
    key = signing.load_private_key(pem(ed25519.Ed25519PrivateKey.generate()))
    files = packaging.package(
        aggregation.aggregate(inputs([node("a", counters={"2026-11": 3})])),
        format=formats.Format.KONG_3_5,
        signing_key=key,
    )
    assert files.signature is not None
    public = signing.load_public_key(files.signature.public_key_pem)
    signature = signing.parse_signature(files.signature.signature_text)
    assert len(signature) == 64
    assert signing.verify(public_key=public, data=files.report_json, signature=signature)
    changed = bytearray(files.report_json)
    changed[len(changed) // 2] ^= 0x01
    assert not signing.verify(public_key=public, data=bytes(changed), signature=signature)
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not signing.verify(public_key=other, data=files.report_json, signature=signature)


def test_signing_is_deterministic(node: ObservationFactory) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    collection = aggregation.aggregate(inputs([node("a")]))
    assert packaging.package(collection, signing_key=key) == packaging.package(
        collection, signing_key=key
    )


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: b"not a key at all", "is not PEM"),
        (lambda: pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "an RSA key"),
        (lambda: pem(ec.generate_private_key(ec.SECP256R1())), "an EC key"),
        (lambda: pem(ed25519.Ed25519PrivateKey.generate(), password=b"pw"), "is encrypted"),
        (
            lambda: signing.public_key_pem(ed25519.Ed25519PrivateKey.generate()),
            "holds a public key",
        ),
        (
            lambda: b"-----BEGIN PRIVATE KEY-----\nTUlJQ1hR\n-----END PRIVATE KEY-----\n",
            "not a readable PEM private key",
        ),
    ],
)
def test_unusable_keys_are_refused_without_showing_them(make: object, words: str) -> None:
    assert callable(make)
    key_pem: bytes = make()
    with pytest.raises(signing.BadKey, match=words) as caught:
        signing.load_private_key(key_pem)
    message = str(caught.value)
    assert key_pem.decode(errors="replace") not in message
    if b"-----" in key_pem:
        assert body(key_pem)[:16] not in message


def test_a_private_key_is_not_taken_as_a_public_one() -> None:
    with pytest.raises(signing.BadKey, match="holds a private key"):
        signing.load_public_key(pem(ed25519.Ed25519PrivateKey.generate()))


def test_a_signature_file_is_base64_or_the_raw_bytes() -> None:
    raw = bytes(range(64))
    assert signing.parse_signature(base64.b64encode(raw) + b"\n") == raw
    assert signing.parse_signature(raw) == raw
    with pytest.raises(signing.SignatureFormatError, match="not an Ed25519 signature"):
        signing.parse_signature(b"abcd")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_our_signature(node: ObservationFactory, tmp_path: pathlib.Path) -> None:
    # The docs tell auditors they need no Python: OpenSSL 3 checks the same signature.
    key = ed25519.Ed25519PrivateKey.generate()
    files = packaging.package(aggregation.aggregate(inputs([node("a")])), signing_key=key)
    assert files.signature is not None
    (tmp_path / "report.json").write_bytes(files.report_json)
    (tmp_path / "report.json.pub").write_bytes(files.signature.public_key_pem)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(files.signature.signature_text))

    def openssl_verify(report: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "report.json.pub", "-rawin",
             "-in", report, "-sigfile", "sig.bin"],
            cwd=tmp_path, capture_output=True, check=False,
        )  # fmt: skip

    assert openssl_verify("report.json").returncode == 0
    changed = files.report_json.replace(b'"db_version"', b'"db_versioN"')
    assert changed != files.report_json
    (tmp_path / "changed.json").write_bytes(changed)
    assert openssl_verify("changed.json").returncode != 0
