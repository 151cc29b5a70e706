"""Advisor lookups: an advisor tool names a person by NIR, for a declared purpose, and gets a
short-lived reference to use on ``/v1/advisor/persons/{ref}/…`` routes.

The reference is random, stored only as a hash, bound to the advisor tool that asked (another
client presenting it gets 404), to the advisor and to the purpose, and expires after
``advisor_ref_lifetime_s``. The lookup itself is journaled; so is every read made with it::

    advisor = await resolve_person_ref(db, principal, ref)   # a Principal with person_id,
    await record_access(db, advisor, route=...)               # advisor_id and purpose set
"""

from __future__ import annotations

import datetime as dt

import msgspec

from cpa.auth.access_log import record_access
from cpa.auth.crypto import new_token, token_hash
from cpa.auth.errors import PersonRefNotFound, UnknownPurpose
from cpa.auth.principal import Principal
from cpa.auth.settings import AuthSettings
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.persons import NirVault, find_person_by_nir

PURPOSES = (
    "career_guidance",
    "training_funding",
    "hardship_prevention",
    "employment_support",
    "retirement_planning",
)
"""Why an advisor may look a person up (kept equal to ``advisor_lookups_purpose_known``)."""


class Lookup(msgspec.Struct, kw_only=True):
    person_ref: str
    advisor_id: str
    purpose: str
    expires_at: dt.datetime


async def look_up_person(
    db: Connection,
    vault: NirVault,
    settings: AuthSettings,
    principal: Principal,
    *,
    nir: str,
    advisor_id: str,
    purpose: str,
) -> Lookup:
    if purpose not in PURPOSES:
        raise UnknownPurpose(f"purpose must be one of: {', '.join(PURPOSES)}")
    person = await find_person_by_nir(db, vault, nir)
    ref = new_token()
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.advisor_ref_lifetime_s)
    advisor = msgspec.structs.replace(principal, advisor_id=advisor_id, purpose=purpose)
    async with db.transaction():
        await db.execute(
            sql("insert_advisor_lookup"),
            token_hash(ref),
            principal.client_id,
            person.id,
            advisor_id,
            purpose,
            expires_at,
        )
        await record_access(
            db, advisor, route="/v1/advisor/lookups", action="lookup", person_id=person.id
        )
    return Lookup(person_ref=ref, advisor_id=advisor_id, purpose=purpose, expires_at=expires_at)


async def resolve_person_ref(db: Connection, principal: Principal, ref: str) -> Principal:
    """The advisor tool's principal, narrowed to the person, advisor and purpose of ``ref``."""
    narrowed, _ = await look_up_ref(db, principal, ref)
    return narrowed


async def look_up_ref(
    db: Connection, principal: Principal, ref: str
) -> tuple[Principal, dt.datetime]:
    """``resolve_person_ref`` and the reference's expiry, from one read of the lookup."""
    row = await db.fetchrow(sql("get_advisor_lookup"), token_hash(ref), principal.client_id)
    if row is None:
        raise PersonRefNotFound()
    narrowed = msgspec.structs.replace(
        principal, person_id=row["person_id"], advisor_id=row["advisor_id"], purpose=row["purpose"]
    )
    expires_at: dt.datetime = row["expires_at"]
    return narrowed, expires_at
