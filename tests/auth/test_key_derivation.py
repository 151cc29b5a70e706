"""Derived keys are HKDF-SHA256; a data directory made with the old derivation keeps working."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from joserfc import jwt

from cpa.auth.crypto import derive_key, legacy_derive_key
from cpa.auth.keys import (
    SIGNING_KEYS_LABEL,
    KeyStore,
    encryption_key,
    legacy_encryption_key,
    rotate_signing_key,
)
from cpa.config import Settings
from cpa.db.database import Connection, PoolDatabase
from cpa.db.pool import create_pool

MASTER = bytes(range(32))


def _rfc5869(master: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 written out from RFC 5869 (no salt: HashLen zeros), one 32-byte block."""
    prk = hmac.new(b"\x00" * 32, master, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


@pytest.mark.parametrize("label", ["signing-keys", "login-tickets"])
def test_derived_keys_are_hkdf_sha256_with_the_label_as_info(label: str) -> None:
    assert derive_key(MASTER, label) == _rfc5869(MASTER, label.encode())
    assert derive_key(MASTER, label) != legacy_derive_key(MASTER, label)
    assert (
        legacy_derive_key(MASTER, label)
        == hashlib.sha256(b"cpa-" + label.encode() + b"\x00" + MASTER).digest()
    )


async def test_signing_keys_stored_before_hkdf_load_until_rotated_away(
    fresh_dsn: str, settings: Settings
) -> None:
    # A database of its own: each rotation commits with its own now(), as in production.
    database = PoolDatabase(await create_pool(fresh_dsn, settings))
    try:
        async with database.acquire() as db:
            await _legacy_keys_load_until_rotated_away(db)
    finally:
        await database.close()


async def _legacy_keys_load_until_rotated_away(db: Connection) -> None:
    # A data directory from before HKDF: its current and previous keys, encrypted the old way.
    legacy = legacy_encryption_key(MASTER)
    assert legacy == legacy_derive_key(MASTER, SIGNING_KEYS_LABEL)
    for _ in range(2):
        await rotate_signing_key(db, legacy)

    with pytest.raises(InvalidTag):  # HKDF alone cannot read them: the fallback does the work
        await KeyStore(encryption_key(MASTER), reload_s=60).refresh(db)

    store = KeyStore.from_master(MASTER, reload_s=60)
    await store.refresh(db)
    key = store.signing_key
    signed = jwt.encode({"alg": "ES256", "kid": key.kid}, {"sub": "x"}, key, algorithms=["ES256"])
    assert jwt.decode(signed, store.verification, algorithms=["ES256"]).claims == {"sub": "x"}

    # Rotating writes HKDF rows; two rotations retire the old ones, and HKDF alone reads all.
    for _ in range(2):
        await rotate_signing_key(db, encryption_key(MASTER))
    hkdf_only = KeyStore(encryption_key(MASTER), reload_s=60)
    await hkdf_only.refresh(db)
    assert {k.kid for k in hkdf_only.verification.keys}.isdisjoint(
        {k.kid for k in store.verification.keys}
    )
