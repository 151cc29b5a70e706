"""Access tokens for a running server, as its authorization server issues them after a
consent: for tests and benchmarks that drive ``python -m cpa serve`` over HTTP without a
browser. The token is signed with the server's current key by cpa's own token codec."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from cpa.auth.clients import NewClient, find_client, register_client
from cpa.auth.consents import grant_consent
from cpa.auth.crypto import new_token
from cpa.auth.login import ACR_PASSWORD
from cpa.auth.principal import ClientKind
from cpa.auth.state import AuthState
from cpa.persons import NirVault

UNLIMITED_PER_MINUTE = 100_000_000


class Minter:
    """Consents and access tokens for persons of a server's database."""

    def __init__(self, base_url: str, data_dir: Path, lifetime_s: int = 300) -> None:
        self.vault = NirVault.from_key_file(data_dir / "nir.key")
        self.state = AuthState(base_url, data_dir / "nir.key", self.vault)
        self.lifetime_s = lifetime_s

    async def load_keys(self, db: asyncpg.Connection) -> None:
        await self.state.keys.refresh(db)

    async def token(
        self, db: asyncpg.Connection, client_id: str, person_id: UUID, scopes: list[str]
    ) -> str:
        client = await find_client(db, client_id)
        assert client is not None
        consent = await grant_consent(
            db, self.state.settings, person_id=person_id, client_id=client_id, scopes=scopes,
            acr=ACR_PASSWORD, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.state.issuer,
            "aud": self.state.codec.audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "jti": new_token(16),
            "iat": now,
            "exp": now + self.lifetime_s,
            "sub": client.subject_for(person_id),
            "consent_id": str(consent.id),
            "acr": ACR_PASSWORD,
            "auth_time": now,
        }
        return self.state.codec.encode(claims)


async def register_partner(db: asyncpg.Connection, kind: ClientKind, name: str) -> str:
    """A partner client (no rate limit to speak of); its id."""
    creds = await register_client(
        db,
        NewClient(
            name=name,
            kind=kind,
            redirect_uris=["https://partner.example/callback"],
            rate_limit_per_minute=UNLIMITED_PER_MINUTE,
        ),
    )
    return str(creds["client_id"])
