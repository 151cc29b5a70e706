"""Which access tokens are revoked, known to every worker without a query per request.

Revocations (one token by ``jti``, or every token of a consent) are appended to the
``revocations`` feed. Each process keeps the live ones in memory: what it revokes itself is
known at once, and it polls the feed by id at most every ``revocation_poll_ms`` for what
other workers revoked. Entries are dropped once their tokens have expired anyway.
"""

from __future__ import annotations

import time
from typing import Any

from cpa.db.database import Connection
from cpa.db.queries import sql


class RevocationList:
    def __init__(self, poll_ms: int) -> None:
        self._poll_s = poll_ms / 1000
        self._polled_at = float("-inf")
        self._last_id = 0
        self._jtis: dict[str, float] = {}
        self._consents: dict[str, float] = {}

    def stale(self) -> bool:
        return time.monotonic() - self._polled_at > self._poll_s

    async def poll(self, db: Connection) -> None:
        rows = await db.fetch(sql("list_revocations_since"), self._last_id)
        for row in rows:
            expires = row["expires_at"].timestamp()
            if row["jti"] is not None:
                self._jtis[row["jti"]] = expires
            else:
                self._consents[str(row["consent_id"])] = expires
            self._last_id = max(self._last_id, row["id"])
        self._polled_at = time.monotonic()
        self._prune()

    def _prune(self) -> None:
        now = time.time()
        for entries in (self._jtis, self._consents):
            for key in [k for k, exp in entries.items() if exp < now - 60]:
                del entries[key]

    def add_jti(self, jti: str, expires_at: float) -> None:
        self._jtis[jti] = expires_at

    def add_consent(self, consent_id: str, expires_at: float) -> None:
        self._consents[consent_id] = expires_at

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        if claims.get("jti") in self._jtis:
            return True
        consent_id = claims.get("consent_id")
        return consent_id is not None and consent_id in self._consents
