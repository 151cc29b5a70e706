"""Consents as resources: granted on the consent page, listed and revoked by the person.

A consent row is never deleted nor edited (a trigger refuses it): revoking sets
``revoked_at`` once, revokes the consent's refresh tokens and appends the consent to the
revocations feed, which kills its access tokens in every worker.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import asyncpg
import msgspec

from cpa.auth.errors import ConsentNotFound
from cpa.auth.revocation import RevocationList
from cpa.auth.settings import AuthSettings
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row


class Consent(msgspec.Struct, kw_only=True):
    id: UUID
    client_id: str
    client_name: str
    client_kind: str
    scopes: list[str]
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    status: str
    """``active``, ``revoked`` or ``expired``."""


class GrantedConsent(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    person_id: UUID
    client_id: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime
    acr: str


async def grant_consent(
    db: Connection,
    settings: AuthSettings,
    *,
    person_id: UUID,
    client_id: str,
    scopes: list[str],
    acr: str,
    now: dt.datetime,
) -> GrantedConsent:
    expires_at = now + dt.timedelta(days=settings.consent_lifetime_days)
    row = await db.fetchrow(sql("insert_consent"), person_id, client_id, scopes, expires_at, acr)
    assert row is not None
    return from_row(GrantedConsent, row, scopes=tuple(row["scopes"]))


class ActiveConsent(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    scopes: frozenset[str]
    expires_at: dt.datetime


async def active_consents(
    db: Connection, settings: AuthSettings, *, person_id: UUID, client_id: str, now: dt.datetime
) -> list[ActiveConsent]:
    """The person's active consents to this client, newest first (at most
    ``consents_reused_max``: older ones are not looked at)."""
    rows = await db.fetch(
        sql("list_active_client_consents"),
        person_id,
        client_id,
        now,
        settings.consents_reused_max,
    )
    return [from_row(ActiveConsent, r, scopes=frozenset(r["scopes"])) for r in rows]


def covering_consent(active: list[ActiveConsent], scopes: list[str]) -> ActiveConsent | None:
    """The newest active consent that grants every scope asked: reused, not asked again."""
    asked = frozenset(scopes)
    return next((consent for consent in active if asked <= consent.scopes), None)


def granted_scopes(active: list[ActiveConsent]) -> set[str]:
    """What the person already granted this client: the consent page asks only the rest."""
    return set().union(*(consent.scopes for consent in active))


def _status(row: asyncpg.Record, now: dt.datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    return "active" if row["expires_at"] > now else "expired"


async def list_consents(
    db: Connection, person_id: UUID, *, limit: int, now: dt.datetime
) -> list[Consent]:
    rows = await db.fetch(sql("list_person_consents"), person_id, limit)
    return [from_row(Consent, r, scopes=list(r["scopes"]), status=_status(r, now)) for r in rows]


async def get_consent_view(
    db: Connection, person_id: UUID, consent_id: UUID, *, now: dt.datetime
) -> Consent:
    row = await db.fetchrow(sql("get_person_consent_view"), consent_id, person_id)
    if row is None:
        raise ConsentNotFound()
    return from_row(Consent, row, scopes=list(row["scopes"]), status=_status(row, now))


async def revoke_consent(
    db: Connection,
    revocations: RevocationList,
    settings: AuthSettings,
    *,
    person_id: UUID,
    consent_id: UUID,
) -> dt.datetime:
    """Revoke one of the person's consents (idempotent); when it was revoked."""
    async with db.transaction():
        row = await db.fetchrow(sql("revoke_person_consent"), consent_id, person_id)
        if row is None:
            existing = await db.fetchrow(sql("get_person_consent"), consent_id, person_id)
            if existing is None:
                raise ConsentNotFound()
            revoked_at: dt.datetime = existing["revoked_at"] or existing["expires_at"]
            return revoked_at
        await db.execute(sql("revoke_consent_refresh_tokens"), consent_id)
        # Its access tokens live at most access_token_lifetime_s from now (plus the skew).
        horizon = row["revoked_at"] + dt.timedelta(
            seconds=settings.access_token_lifetime_s + settings.clock_skew_s
        )
        await db.execute(sql("insert_consent_revocation"), consent_id, horizon)
    revocations.add_consent(str(consent_id), horizon.timestamp())
    revoked: dt.datetime = row["revoked_at"]
    return revoked
