"""Secrets: argon2id for what people choose or are shown once, SHA-256 for random tokens.

Client secrets and citizen passwords are argon2id hashes (slow on purpose). Codes, refresh
tokens, request URIs and person references are 256-bit random strings: a SHA-256 of them is
enough at rest and fast to look up. Local keys (signing-key encryption, login tickets) are
derived from the master key file that already protects NIRs with HKDF-SHA256 (RFC 5869), one
label per use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cpa.persons import NirVault

# OWASP Password Storage Cheat Sheet, argon2id minimum: 19 MiB, 2 iterations, 1 lane.
# argon2-cffi's default (64 MiB, 3 iterations, 4 lanes) cost 150 ms a hash on these 2-core
# machines, i.e. a login or a secret check could starve a worker; hashes made with other
# parameters still verify (the parameters are written in each hash).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the account is unknown (same timing); made on first use,
    not at import, which would cost every command 0.15 s."""
    return _HASHER.hash("cpa-dummy-secret")


TOKEN_BYTES = 32


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """argon2id verification; an unknown account still costs one verification (timing)."""
    try:
        return _HASHER.verify(secret_hash or _dummy_hash(), secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def master_key(key_file: Path) -> bytes:
    """The 32-byte master key (created on first use by the NIR vault, mode 0600)."""
    NirVault.from_key_file(key_file)
    return bytes.fromhex(key_file.read_text().strip())


DERIVED_KEY_BYTES = 32


def derive_key(master: bytes, label: str) -> bytes:
    """The key for one use (``label``): HKDF-SHA256 of the master key, ``info`` = the label.

    No salt: the master key is already 32 uniformly random bytes (RFC 5869 §3.1).
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DERIVED_KEY_BYTES, salt=None, info=label.encode())
    return hkdf.derive(master)


def legacy_derive_key(master: bytes, label: str) -> bytes:
    """The derivation before HKDF, ``sha256("cpa-" ‖ label ‖ 0 ‖ master)``.

    Kept only so that signing keys stored encrypted under it (a data directory made before
    HKDF) still load: :class:`cpa.auth.keys.KeyStore` falls back to it for those rows, and
    rotation retires them (``python -m cpa keys rotate``, twice). Never used to encrypt.
    """
    return hashlib.sha256(b"cpa-" + label.encode() + b"\x00" + master).digest()


class VerifiedSecretCache:
    """Client secrets already verified with argon2id, so a token request costs no argon2.

    Keyed by (client id, stored argon2 hash): a new secret or a re-registered client misses.
    The value is a keyed SHA-256 of the secret, compared in constant time, and lives only in
    this process's memory; a disabled client is refused before the cache is consulted.
    """

    def __init__(self, size_max: int) -> None:
        self._size_max = size_max
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def verify(self, client_id: str, secret_hash: str | None, secret: str) -> bool:
        if secret_hash is None:
            verify_secret(None, secret)
            return False
        key = (client_id, secret_hash)
        known = self._entries.get(key)
        if known is not None:
            return hmac.compare_digest(known, self._digest(secret))
        if not verify_secret(secret_hash, secret):
            return False
        self._entries[key] = self._digest(secret)
        if len(self._entries) > self._size_max:
            self._entries.popitem(last=False)
        return True
