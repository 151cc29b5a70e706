"""How a citizen proves who they are at ``/oauth/authorize``: behind one small interface.

:class:`LoginMethod` is what the authorize page needs: the form fields to show, and a check
of what was typed that gives an :class:`Authentication` (person, ``acr`` level, time). The
embedded default is NIR + password (argon2id). An external OpenID Connect provider
(FranceConnect-style) replaces it by implementing the same interface: its ``fields`` are
empty, the page then offers a redirection to the provider, and ``authenticate`` receives the
provider's callback parameters and maps its ``sub``/``acr`` to a person.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol
from uuid import UUID

import msgspec

from cpa.auth.crypto import hash_secret, verify_secret
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.persons import InvalidNir, NirVault, normalise_nir

ACR_PASSWORD = "urn:cpa:acr:password"
"""Knowledge factor only (eIDAS "low"); an OIDC provider would report its own levels."""


class Authentication(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    acr: str
    auth_time: int


class LoginField(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    """HTML input type."""
    label_fr: str
    label_en: str
    autocomplete: str


class LoginMethod(Protocol):
    name: str
    fields: tuple[LoginField, ...]

    def key_for(self, form: Mapping[str, str]) -> str:
        """What failed attempts are counted against (never logged)."""
        ...

    async def authenticate(self, db: Connection, form: Mapping[str, str]) -> Authentication | None:
        """The person behind ``form``, or None when the credentials do not match."""
        ...


class PasswordLogin:
    """NIR + password, the embedded default."""

    name = "password"
    fields: tuple[LoginField, ...] = (
        LoginField(
            name="nir",
            kind="text",
            label_fr="Numéro de sécurité sociale (NIR, 15 caractères)",
            label_en="Social security number (NIR, 15 characters)",
            autocomplete="username",
        ),
        LoginField(
            name="password",
            kind="password",
            label_fr="Mot de passe",
            label_en="Password",
            autocomplete="current-password",
        ),
    )

    def __init__(self, vault: NirVault) -> None:
        self.vault = vault

    def key_for(self, form: Mapping[str, str]) -> str:
        try:
            return self.vault.lookup_hash(normalise_nir(form.get("nir", ""))).hex()
        except InvalidNir:
            return "invalid-nir"

    async def authenticate(self, db: Connection, form: Mapping[str, str]) -> Authentication | None:
        password = form.get("password", "")
        try:
            nir = normalise_nir(form.get("nir", ""))
        except InvalidNir:
            verify_secret(None, password)  # same time whether the NIR is valid or not
            return None
        row = await db.fetchrow(sql("get_login_by_nir_hmac"), self.vault.lookup_hash(nir))
        if not verify_secret(row["password_hash"] if row else None, password) or row is None:
            return None
        return Authentication(
            person_id=row["person_id"], acr=ACR_PASSWORD, auth_time=int(time.time())
        )


async def set_password(db: Connection, person_id: UUID, password: str) -> None:
    await db.execute(sql("upsert_person_password"), person_id, hash_secret(password))
