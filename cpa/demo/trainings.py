"""Demo training purchases: two training bodies' catalogues and a few dossiers in different
states, driven through the real steps (with past clocks), so ``make run`` shows the lifecycle:
one paid (serviceDoneValidated), one accepted (rights held), one proposed (validated), one
waiting for the body's answer (notProcessed)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from cpa.auth.principal import ClientKind, Principal
from cpa.db.database import Connection
from cpa.persons import Person
from cpa.trainings import (
    ActionInput,
    NewDossier,
    NewSession,
    NewTrainingAction,
    Party,
    act,
    create_action,
    create_session,
    request_dossier,
)

BODY = "demo-training-body"
OTHER_BODY = "demo-training-body-2"
PORTAL = "demo-portal"
OPERATOR = "demo-operator"

CATALOGUE = [
    (BODY, NewTrainingAction(
        title="Développeur web et web mobile", certification_code="RNCP37674",
        description="Titre professionnel de niveau 5 : front-end, back-end, déploiement.",
        duration_hours=700, modality="mixed", location="Lyon 69003", prerequisites=True,
    ), 450_000),
    (BODY, NewTrainingAction(
        title="Anglais professionnel — TOEIC", certification_code="RS5857",
        description="Préparation et passage du TOEIC Listening and Reading.",
        duration_hours=30, modality="remote",
    ), 150_000),
    (OTHER_BODY, NewTrainingAction(
        title="Soudage TIG sur acier", certification_code="RS5063",
        description="Habilitation au soudage TIG, atelier de 12 postes.",
        duration_hours=70, modality="on_site", location="Saint-Nazaire 44600",
    ), 220_000),
]  # fmt: skip


def _party(actor: str, client_id: str, kind: ClientKind, person_id: UUID | None = None) -> Party:
    principal = Principal(
        client_id=client_id, client_kind=kind, scopes=frozenset(), jti="demo", sub="demo",
        person_id=person_id, client_name=client_id,
    )  # fmt: skip
    return Party(actor=actor, principal=principal, route="demo")  # type: ignore[arg-type]


async def _catalogue(db: Connection, now: dt.datetime) -> list[tuple[UUID, UUID]]:
    """Each action with a past session (the paid dossier's) and one in two months; the
    sessions (past, coming) of each action."""
    sessions = []
    for body, new, price in CATALOGUE:
        action = await create_action(db, body, new, now=now - dt.timedelta(days=120))
        ids = []
        for starts_in in (-50, 60):
            starts_on = now.date() + dt.timedelta(days=starts_in)
            session = NewSession(
                starts_on=starts_on, ends_on=starts_on + dt.timedelta(days=28),
                price_cents=price, seats=12,
            )  # fmt: skip
            created = await create_session(db, body, action.id, session, now=now)
            ids.append(created.id)
        sessions.append((ids[0], ids[1]))
    return sessions


async def _walk(
    db: Connection, citizen: Party, session_id: UUID, steps: list[tuple[Party, str, int]],
    now: dt.datetime, *, requested_days_ago: int, given: ActionInput | None = None,
) -> None:  # fmt: skip
    """A request ``requested_days_ago``, then each (party, action, days ago) step."""
    ago = dt.timedelta(days=requested_days_ago)
    view = await request_dossier(db, citizen, NewDossier(session_id=session_id), now=now - ago)
    for party, action, days_ago in steps:
        await act(db, party, view.id, action, given or ActionInput(),
                  now=now - dt.timedelta(days=days_ago))  # fmt: skip


async def load_demo_trainings(db: Connection, persons: list[Person], now: dt.datetime) -> None:
    sessions = await _catalogue(db, now)
    body, other = _party("body", BODY, "training_body"), _party("body", OTHER_BODY, "training_body")
    financer = _party("financer", OPERATOR, "operator")
    first, second, _, fourth = (_party("citizen", PORTAL, "portal", p.id) for p in persons)
    # The past session started 50 days ago: proposed 74 days ago, at least 11 working days
    # before it whatever the holidays in between.
    paid = [(body, "validate", 74), (first, "accept", 73), (body, "declare_entry", 50),
            (body, "declare_exit", 20), (financer, "validate_service_done", 15)]  # fmt: skip
    await _walk(db, first, sessions[1][0], paid, now, requested_days_ago=75,
                given=ActionInput(completion_basis_points=10_000))  # fmt: skip
    accepted = [(body, "validate", 2), (second, "accept", 1)]
    await _walk(db, second, sessions[0][1], accepted, now, requested_days_ago=3)
    await _walk(db, fourth, sessions[2][1], [(other, "validate", 0)], now, requested_days_ago=1)
    await _walk(db, first, sessions[2][1], [], now, requested_days_ago=0)
