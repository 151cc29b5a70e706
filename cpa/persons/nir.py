"""The NIR (numéro d'inscription au répertoire): validation, and how it is kept at rest.

A NIR has 15 characters: 13 digits (positions 6–7 may be ``2A``/``2B`` for Corsica) and a
2-digit control key equal to 97 − (number mod 97), the number being computed with ``2A`` read
as 19 and ``2B`` as 18. At rest a NIR is encrypted (AES-256-GCM) and looked up by its keyed
hash (HMAC-SHA-256), so that a database dump alone reveals no NIR.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cpa.persons.errors import InvalidNir

_SHAPE = re.compile(r"^[1-478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")
_NONCE_BYTES = 12


def normalise_nir(raw: str) -> str:
    """Validate ``raw`` and return its canonical form (upper case, no spaces)."""
    nir = raw.replace(" ", "").replace(".", "").upper()
    if len(nir) != 15:
        raise InvalidNir(f"a NIR has 15 characters (13 + a 2-digit key), got {len(nir)}")
    if not _SHAPE.match(nir):
        raise InvalidNir(
            "a NIR starts with 1, 2, 3, 4, 7 or 8 and has only digits, "
            "except 2A or 2B for a department of Corsica"
        )
    number = int(nir[:13].replace("2A", "19").replace("2B", "18"))
    expected = 97 - number % 97
    if int(nir[13:]) != expected:
        # Never the right key: it would make a mistyped or guessed NIR valid at once.
        raise InvalidNir("the control key (last 2 digits) does not match this NIR")
    return nir


def nir_key(number13: str) -> str:
    """The control key of the first 13 characters of a NIR (for building valid test data)."""
    number = int(number13.upper().replace("2A", "19").replace("2B", "18"))
    return f"{97 - number % 97:02d}"


class NirVault:
    """Encrypts NIRs and derives their lookup hash from one 32-byte master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the NIR master key has 32 bytes")
        self._aead = AESGCM(hashlib.sha256(b"cpa-nir-encryption" + master_key).digest())
        self._hmac_key = hashlib.sha256(b"cpa-nir-lookup" + master_key).digest()

    @classmethod
    def from_key_file(cls, path: Path) -> NirVault:
        """Read the key file, creating it (mode 0600) with a random key the first time."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as key_file:
                key_file.write(secrets.token_hex(32) + "\n")
        return cls(bytes.fromhex(path.read_text().strip()))

    def lookup_hash(self, nir: str) -> bytes:
        return hmac.digest(
            self._hmac_key, nir.encode(), "sha256"
        )  # one call: a bulk intake's hot path

    def encrypt(self, nir: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, nir.encode(), b"nir")

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], b"nir").decode()
