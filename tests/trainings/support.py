"""A training body with one action and session, a citizen with rights, and the parties that
act on dossiers (their principals as the token guard would hand them over)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from cpa.auth.principal import Principal
from cpa.ledger import NewGrant, add_grant
from cpa.trainings import NewSession, NewTrainingAction, Party, create_action, create_session
from tests.auth import support as auth
from tests.ledger.support import new_person

RIGHTS_CENTS = 300_000


@dataclass
class Setting:
    person_id: UUID
    body_id: str
    session_id: UUID
    citizen: Party
    body: Party
    financer: Party


def _party(actor: str, principal: Principal) -> Party:
    return Party(actor=actor, principal=principal, route=f"/test/{actor}")  # type: ignore[arg-type]


async def setting(
    db: asyncpg.Connection,
    *,
    starts_on: dt.date,
    price_cents: int,
    now: dt.datetime,
    rights_cents: int = RIGHTS_CENTS,
) -> Setting:
    """One body, its action and a session starting on ``starts_on``, a citizen with
    ``rights_cents`` of CPF rights (a dotation), all created at ``now``."""
    body = (await auth.client(db, "training_body"))["client_id"]
    portal = (await auth.client(db, "portal"))["client_id"]
    operator = (await auth.client(db, "operator"))["client_id"]
    person = await new_person(db)
    grant = NewGrant(pot="dotation", amount_cents=rights_cents, financer="F")
    await add_grant(db, person.id, grant, today=now.date())
    new = NewTrainingAction(
        title="Soudure TIG", certification_code="RS5063", duration_hours=70, modality="on_site"
    )
    action = await create_action(db, body, new, now=now)
    session = NewSession(
        starts_on=starts_on, ends_on=starts_on + dt.timedelta(days=30),
        price_cents=price_cents, seats=10,
    )  # fmt: skip
    session_id = (await create_session(db, body, action.id, session, now=now)).id
    common = {"scopes": frozenset(), "jti": "test-jti", "sub": "s"}
    return Setting(
        person_id=person.id,
        body_id=body,
        session_id=session_id,
        citizen=_party(
            "citizen", Principal(client_id=portal, client_kind="portal", person_id=person.id,
                                 **common)  # type: ignore[arg-type]
        ),
        body=_party("body", Principal(client_id=body, client_kind="training_body", **common)),  # type: ignore[arg-type]
        financer=_party(
            "financer", Principal(client_id=operator, client_kind="operator", **common)  # type: ignore[arg-type]
        ),
    )  # fmt: skip
