"""Webhook secrets: Standard Webhooks ``whsec_`` secrets, stored encrypted.

Signing needs the secret itself, so it cannot be hashed like a client secret: it is sealed
with AES-GCM (the subscription id as associated data, so a ciphertext cannot be moved to
another subscription) under a key derived from the master key with HKDF, as signing keys are
(``cpa.auth.crypto.derive_key``, label ``webhook-secrets``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cpa.auth.crypto import derive_key, master_key
from cpa.webhooks.errors import InvalidWebhook

WEBHOOK_SECRETS_LABEL = "webhook-secrets"
"""The HKDF label of the key that encrypts stored webhook secrets."""
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""A generated secret's random bytes (Standard Webhooks: 24 to 64)."""
SECRET_BYTES_MIN = 24
SECRET_BYTES_MAX = 64
_NONCE_BYTES = 12


def new_secret() -> str:
    """A fresh secret, ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str) -> str:
    """A secret given by the client: ``whsec_`` and the base64 of 24 to 64 bytes."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith(SECRET_PREFIX) or not SECRET_BYTES_MIN <= len(key) <= SECRET_BYTES_MAX:
        raise InvalidWebhook(
            "a secret is whsec_ followed by the base64 of 24 to 64 random bytes",
            errors=[{"field": "secret", "message": "not a Standard Webhooks secret"}],
        )
    return secret


class SecretBox:
    """Seals and opens the secrets of subscriptions."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_key_file(cls, key_file: Path) -> SecretBox:
        return cls(derive_key(master_key(key_file), WEBHOOK_SECRETS_LABEL))

    def seal(self, subscription_id: UUID, secret: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), subscription_id.bytes)

    def open(self, subscription_id: UUID, blob: bytes) -> str:
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, sealed, subscription_id.bytes).decode()
