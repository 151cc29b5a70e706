"""Token signing keys (ES256): kept in the database, encrypted, rotated, cached per process.

``python -m cpa keys rotate`` adds a new current key and retires all but the previous one;
the JWKS serves both, so tokens signed just before a rotation stay verifiable. Each process
keeps a joserfc ``KeySet`` (never a dict: Authlib and joserfc would re-import it on every
call) and reloads it every ``key_reload_s`` or when a token names a key it does not know.

Private keys are stored encrypted (AES-GCM, the ``kid`` as associated data) under a key
derived from the master key with HKDF (:func:`encryption_key`). A row written before HKDF,
under the legacy derivation, still loads: the store falls back to the legacy key for that row
(and logs it); the next rotations write HKDF rows and retire the old ones (two rotations leave
none). No row is rewritten in place: a kid's ciphertext stays what it was inserted with.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey, KeySet

from cpa.auth.crypto import derive_key, legacy_derive_key
from cpa.db.database import Connection
from cpa.db.queries import sql

log = structlog.get_logger(__name__)

ALGORITHM = "ES256"
SIGNING_KEYS_LABEL = "signing-keys"
"""The HKDF label of the key that encrypts stored signing keys."""
_NONCE_BYTES = 12
_UNKNOWN_KID_RELOAD_S = 5.0


def _encrypt(aead: AESGCM, kid: str, private: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + aead.encrypt(nonce, msgspec.json.encode(private), kid.encode())


def encryption_key(master: bytes) -> bytes:
    """The key new signing keys are encrypted under."""
    return derive_key(master, SIGNING_KEYS_LABEL)


def legacy_encryption_key(master: bytes) -> bytes:
    """The key rows written before HKDF were encrypted under (read only)."""
    return legacy_derive_key(master, SIGNING_KEYS_LABEL)


def _decrypt(aead: AESGCM, kid: str, blob: bytes) -> dict[str, Any]:
    plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], kid.encode())
    decoded: dict[str, Any] = msgspec.json.decode(plain)
    return decoded


async def rotate_signing_key(db: Connection, encryption_key: bytes) -> dict[str, Any]:
    """Create a new current key; retire all but it and the one it replaces."""
    kid = f"{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
    key = ECKey.generate_key(
        "P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"}, private=True
    )
    aead = AESGCM(encryption_key)
    async with db.transaction():
        row = await db.fetchrow(
            sql("insert_signing_key"),
            kid,
            _encrypt(aead, kid, key.as_dict(private=True)),
            key.as_dict(private=False),
        )
        retired = [r["kid"] for r in await db.fetch(sql("retire_signing_keys"))]
    log.info("signing_key_rotated", kid=kid, retired=retired)
    assert row is not None
    return {"kid": kid, "created_at": row["created_at"].isoformat(), "retired": retired}


class KeyStore:
    """The current signing key and the verification KeySet, cached in this process."""

    @classmethod
    def from_master(cls, master: bytes, reload_s: int) -> KeyStore:
        """Encrypting under the HKDF key, reading legacy rows too."""
        return cls(encryption_key(master), reload_s, legacy_key=legacy_encryption_key(master))

    def __init__(
        self, encryption_key: bytes, reload_s: int, *, legacy_key: bytes | None = None
    ) -> None:
        self._aead = AESGCM(encryption_key)
        self._legacy = AESGCM(legacy_key) if legacy_key is not None else None
        self._legacy_kids: set[str] = set()
        self._encryption_key = encryption_key
        self._reload_s = reload_s
        self._loaded_at = float("-inf")
        self._signing: ECKey | None = None
        self.verification = KeySet([])
        self.public_jwks: dict[str, Any] = {"keys": []}

    @property
    def signing_key(self) -> ECKey:
        assert self._signing is not None, "KeyStore.refresh() runs before signing"
        return self._signing

    @property
    def loaded(self) -> bool:
        return self._signing is not None

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._reload_s

    def knows(self, kid: str | None) -> bool:
        return any(key.kid == kid for key in self.verification.keys)

    async def refresh(self, db: Connection, *, force: bool = False) -> None:
        """Reload from the database when stale (or forced); create a first key if none."""
        if not force and not self.stale():
            return
        rows = await db.fetch(sql("list_signing_keys"))
        if not rows:
            await rotate_signing_key(db, self._encryption_key)
            rows = await db.fetch(sql("list_signing_keys"))
        keys = [
            ECKey.import_key(self._private(r["kid"], r["private_jwk_ciphertext"])) for r in rows
        ]
        self._signing = keys[0]
        self.verification = KeySet(list[Any](keys))
        self.public_jwks = {"keys": [r["public_jwk"] for r in rows]}
        self._loaded_at = time.monotonic()

    def _private(self, kid: str, blob: bytes) -> dict[str, Any]:
        """Decrypt under the HKDF key, else (a row from before HKDF) under the legacy one."""
        try:
            return _decrypt(self._aead, kid, blob)
        except InvalidTag:
            if self._legacy is None:
                raise
        private = _decrypt(self._legacy, kid, blob)
        if kid not in self._legacy_kids:  # once per process: rotating twice retires it
            self._legacy_kids.add(kid)
            log.warning("signing_key_read_with_legacy_derivation", kid=kid)
        return private

    async def refresh_for_unknown_kid(self, db: Connection, kid: str | None) -> bool:
        """A token names a key we do not hold: reload once in a while, then tell."""
        if self.knows(kid):
            return True
        if time.monotonic() - self._loaded_at > _UNKNOWN_KID_RELOAD_S:
            await self.refresh(db, force=True)
        return self.knows(kid)
