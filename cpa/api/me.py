"""The person's own routes: ``/v1/me`` (pseudonymous profile), consents, access journal.

Every route here addresses ``principal.person_id`` only: no parameter names a person.
Consents and the access journal are self-service views of the person's portal, so they are
reserved to portal clients; reading them is not itself journaled.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, delete, get
from litestar.params import FromPath, Parameter

from cpa.api.account import ROW_ID_MAX
from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.auth.access_log import AccessEntry, AccessLogBehind, catch_up, list_access
from cpa.auth.consents import Consent, get_consent_view, list_consents, revoke_consent
from cpa.auth.errors import ConsentNotFound
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.db.database import Database
from cpa.db.queries import sql


class Me(msgspec.Struct, kw_only=True):
    """What this client knows of the person: a subject of its own, never the NIR."""

    sub: str
    client_id: str
    scopes: list[str]
    acr: str | None
    consent_expires_at: dt.datetime


class Consents(msgspec.Struct, kw_only=True):
    consents: list[Consent]


class ConsentRevoked(msgspec.Struct, kw_only=True):
    id: UUID
    revoked_at: dt.datetime


class AccessLog(msgspec.Struct, kw_only=True):
    entries: list[AccessEntry]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; null on the last page."""


async def load_me(database: Database, principal: Principal) -> Me:
    """The body of ``GET /v1/me`` (shared with the benchmark's unguarded twin)."""
    async with database.acquire() as db:
        row = await db.fetchrow(sql("get_consent"), principal.consent_id)
    assert row is not None, "the guard admits only tokens of an existing consent"
    return Me(
        sub=principal.sub,
        client_id=principal.client_id,
        scopes=sorted(principal.scopes),
        acr=principal.acr,
        consent_expires_at=row["expires_at"],
    )


class MeController(Controller):
    path = "/v1/me"
    tags = ("me",)

    @get(
        "/",
        operation_id="getMe",
        summary="The person's pseudonymous profile for this client",
        **doc(requires()),
    )
    async def me(self, call: Caller) -> Me:
        return await load_me(call.db, call.principal)

    @get(
        "/consent",
        operation_id="getMyCurrentConsent",
        summary="The consent this token acts under: its id, scopes, expiry and status",
        **doc(
            requires(),
            ConsentNotFound,
            description=(
                "What the partner holds, without decoding its token (also given as "
                "`consent_id` in the token response): the scopes the citizen granted, when "
                "the consent expires, whether it is still active."
            ),
        ),
    )
    async def current_consent(self, call: Caller) -> Consent:
        principal = call.principal
        assert principal.consent_id is not None, "a person's token acts under a consent"
        now = dt.datetime.now(dt.UTC)
        async with call.db.acquire() as db:
            return await get_consent_view(db, call.person_id, principal.consent_id, now=now)

    @get(
        "/consents",
        operation_id="listMyConsents",
        summary="The person's consents, revoked and expired ones included",
        **doc(requires("account:read", kinds=("portal",))),
    )
    async def consents(self, call: Caller) -> Consents:
        limit = call.auth.settings.page_size_max
        now = dt.datetime.now(dt.UTC)
        async with call.db.acquire() as db:
            found = await list_consents(db, call.person_id, limit=limit, now=now)
        return Consents(consents=found)

    @delete(
        "/consents/{consent_id:uuid}",
        operation_id="revokeMyConsent",
        summary="Revoke one of the person's consents (its tokens stop working)",
        **doc(requires(kinds=("portal",)), ConsentNotFound),
        status_code=200,
    )
    async def revoke(self, call: Caller, consent_id: FromPath[UUID]) -> ConsentRevoked:
        state = call.auth
        async with call.transaction() as db:
            revoked_at = await revoke_consent(
                db,
                state.revocations,
                state.settings,
                person_id=call.person_id,
                consent_id=consent_id,
            )
        return ConsentRevoked(id=consent_id, revoked_at=revoked_at)

    @get(
        "/access-log",
        operation_id="getMyAccessLog",
        summary="Who read or changed the person's data, newest first",
        **doc(
            requires("account:read", kinds=("portal",)),
            AccessLogBehind,
            description=(
                "The first page lists every access completed before this request: the lines "
                "of reads, written in batches, are written first by every server process "
                "(a few milliseconds)."
            ),
        ),
    )
    async def access_log(
        self,
        call: Caller,
        before: Annotated[
            int, Parameter(ge=0, le=ROW_ID_MAX, description="entries older than this id")
        ] = 0,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> AccessLog:
        async with call.db.acquire() as db:
            if before == 0:  # the newest page: every access served so far is on it
                await catch_up(db)
            entries = await list_access(db, call.person_id, before_id=before, limit=limit)
        return AccessLog(
            entries=entries, next_before=entries[-1].id if len(entries) == limit else None
        )
