"""Keyed hashing of identifiers that must not leave the cluster in the clear.

Kong's docs call ``license_key`` an "encrypted identifier" and ``hostname``
an "encrypted system hostname". HMAC-SHA256 under an installation key gives
both properties an audit needs: the same value always maps to the same
identifier (reports stay comparable month to month), and without the key
nobody can reverse it or test guesses against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Shorter keys make guessing the key feasible; 32 bytes is what we generate.
MIN_KEY_BYTES = 16
KEY_BYTES = 32


class HashKeyError(ValueError):
    pass


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def check_key(key: bytes) -> bytes:
    """Return ``key`` if it is usable; surrounding whitespace from a file is stripped."""
    key = key.strip()
    if len(key) < MIN_KEY_BYTES:
        raise HashKeyError(
            f"the hash key is {len(key)} bytes long; at least {MIN_KEY_BYTES} are needed"
        )
    return key


def keyed_hash(*, key: bytes, value: str) -> str:
    """The hex HMAC-SHA256 of ``value`` under ``key``."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
