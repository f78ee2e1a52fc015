"""Ed25519 signatures over the exact bytes of ``report.json``.

The signature is stored as base64 text (``report.json.sig``: the 64 raw
signature bytes, base64-encoded, one line) beside the public key as PEM
(``report.json.pub``: SubjectPublicKeyInfo). Keys are PEM PKCS#8, as
``openssl genpkey -algorithm ed25519`` writes them. OpenSSL 3 checks a
signature as well as this tool does::

    base64 -d report.json.sig > report.json.sig.bin
    openssl pkeyutl -verify -pubin -inkey trusted.pub -rawin -in report.json \\
        -sigfile report.json.sig.bin

Messages about a key say what is wrong with it, never what it holds.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

#: The key types callers name (``signing.PrivateKey``), without importing cryptography.
PrivateKey = ed25519.Ed25519PrivateKey
PublicKey = ed25519.Ed25519PublicKey

SIGNATURE_BYTES = 64
SIGNATURE_SUFFIX = ".sig"
PUBLIC_KEY_SUFFIX = ".pub"


class BadKey(ValueError):
    """A key that cannot be used; the message is safe to show (it holds no key material)."""


class SignatureFormatError(ValueError):
    """A signature file that is not an Ed25519 signature at all."""


@dataclasses.dataclass(frozen=True)
class Signature:
    """A signature of some bytes and the public half of the key that made it."""

    signature: bytes  # the 64 raw bytes
    public_key_pem: bytes

    @property
    def signature_text(self) -> bytes:
        """What ``report.json.sig`` holds: base64 of the raw signature, one line."""
        return base64.b64encode(self.signature) + b"\n"


def _kind(key: object) -> str:
    kinds = (
        ((rsa.RSAPrivateKey, rsa.RSAPublicKey), "an RSA"),
        ((ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey), "an EC"),
        ((dsa.DSAPrivateKey, dsa.DSAPublicKey), "a DSA"),
        ((ed448.Ed448PrivateKey, ed448.Ed448PublicKey), "an Ed448"),
        ((x25519.X25519PrivateKey, x25519.X25519PublicKey), "an X25519"),
        ((x448.X448PrivateKey, x448.X448PublicKey), "an X448"),
    )
    for types, name in kinds:
        if isinstance(key, types):
            return name
    return "a non-Ed25519"


def load_private_key(pem: bytes | str) -> ed25519.Ed25519PrivateKey:
    """An unencrypted Ed25519 private key from PEM (PKCS#8); ``BadKey`` otherwise."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN" not in data:
        raise BadKey("is not PEM (no -----BEGIN line); give an Ed25519 key in PEM PKCS#8")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise BadKey("holds a public key; signing needs the private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        # cryptography raises TypeError for a key that needs a password.
        raise BadKey("is encrypted; store the key unencrypted (PEM PKCS#8)") from None
    except (ValueError, crypto_exceptions.UnsupportedAlgorithm):
        # The library's own message may describe the bytes it met: not repeated.
        raise BadKey("is not a readable PEM private key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise BadKey(f"holds {_kind(key)} key; an Ed25519 key is needed")
    return key


def load_public_key(pem: bytes | str) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo); ``BadKey`` otherwise."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY-----" in data:
        raise BadKey("holds a private key; give the public key (never share the private one)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, crypto_exceptions.UnsupportedAlgorithm):
        raise BadKey("is not a readable PEM public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BadKey(f"holds {_kind(key)} key; an Ed25519 key is needed")
    return key


def public_key_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def sign(*, key: ed25519.Ed25519PrivateKey, data: bytes) -> Signature:
    """Sign ``data`` exactly as given (Ed25519 signatures are deterministic)."""
    return Signature(signature=key.sign(data), public_key_pem=public_key_pem(key))


def parse_signature(content: bytes) -> bytes:
    """The 64 signature bytes from a signature file: base64 text (ours) or raw bytes."""
    try:
        decoded = base64.b64decode(content.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == SIGNATURE_BYTES:
        return decoded
    if len(content) == SIGNATURE_BYTES:
        return content
    raise SignatureFormatError(
        f"is not an Ed25519 signature ({SIGNATURE_BYTES} bytes, raw or base64)"
    )


def verify(*, public_key: ed25519.Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the signature of exactly ``data`` under ``public_key``."""
    try:
        public_key.verify(signature, data)
    except crypto_exceptions.InvalidSignature:
        return False
    return True
