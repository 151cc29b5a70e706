"""Who caused a write: part of the kernel, as every domain's writes record it (declarations,
the ledger, linked services) and the HTTP layer builds it from the caller's token."""

from __future__ import annotations

import msgspec


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    """Who caused a write: the client, its token's ``jti`` and the request's idempotency key."""

    client_id: str | None = None
    token_jti: str | None = None
    idempotency_key: str | None = None


SYSTEM = Provenance(client_id="cpa")
"""The service itself (campaigns, sweeps, the demo loader)."""
