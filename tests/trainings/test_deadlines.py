"""The server applies the dossier deadlines by itself (the periodic job, with an injected
clock), counted in working days across French public holidays (May 2026: 1 May, Ascension
14 May, 8 May, Whit Monday 25 May): each case checked the day before it falls due, when a
count ignoring the holiday would already have moved the dossier, and on the day it does."""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import UUID

import asyncpg

from cpa.db.database import ConnectionDatabase, Database
from cpa.ledger import verify_ledger
from cpa.periodic import Periodic
from cpa.trainings import ActionInput, NewDossier, act, request_dossier, sweep_deadlines
from tests.trainings.support import Setting, setting

PRICE = 120_000


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


async def state_of(db: asyncpg.Connection, dossier_id: UUID) -> str:
    state: str = await db.fetchval("select state from dossiers where id = $1", dossier_id)
    return state


async def new_dossier(db: asyncpg.Connection, s: Setting, on: dt.date) -> UUID:
    view = await request_dossier(db, s.citizen, NewDossier(session_id=s.session_id), now=at(on))
    return view.id


async def sweep(db: asyncpg.Connection, on: dt.date) -> int:
    return await sweep_deadlines(ConnectionDatabase(db), at(on, 6))


async def test_no_answer_from_the_body_cancels_after_two_working_days_over_whit_monday(
    db: asyncpg.Connection,
) -> None:
    """Requested Friday 22 May 2026: Monday 25 is Whit Monday, so the two working days are
    Tuesday 26 and Wednesday 27; the request is cancelled on Thursday 28, not before."""
    friday = dt.date(2026, 5, 22)
    s = await setting(db, starts_on=dt.date(2026, 7, 1), price_cents=PRICE, now=at(friday))
    dossier_id = await new_dossier(db, s, friday)
    assert await sweep(db, dt.date(2026, 5, 27)) == 0
    assert await state_of(db, dossier_id) == "notProcessed"
    assert await sweep(db, dt.date(2026, 5, 28)) == 1
    assert await state_of(db, dossier_id) == "canceledByOrganism"
    actor = await db.fetchval(
        "select actor from dossier_states where dossier_id = $1 order by seq desc limit 1",
        dossier_id,
    )
    assert actor == "server"


async def test_a_proposal_not_accepted_in_four_working_days_over_ascension_lapses(
    db: asyncpg.Connection,
) -> None:
    """Proposed Wednesday 13 May 2026: Thursday 14 is Ascension, so the four working days end
    on Wednesday 20; the proposal lapses on Thursday 21."""
    wednesday = dt.date(2026, 5, 13)
    s = await setting(db, starts_on=dt.date(2026, 7, 1), price_cents=PRICE, now=at(wednesday))
    dossier_id = await new_dossier(db, s, wednesday)
    await act(db, s.body, dossier_id, "validate", ActionInput(), now=at(wednesday, 14))
    assert await sweep(db, dt.date(2026, 5, 20)) == 0
    assert await state_of(db, dossier_id) == "validated"
    assert await sweep(db, dt.date(2026, 5, 21)) == 1
    assert await state_of(db, dossier_id) == "rejectedWithoutTitulaireSuite"


async def _declared(db: asyncpg.Connection, s: Setting, declared_on: dt.date) -> UUID:
    """A dossier accepted in March 2026, its training followed and its exit declared."""
    march = dt.date(2026, 3, 2)
    dossier_id = await new_dossier(db, s, march)
    await act(db, s.body, dossier_id, "validate", ActionInput(), now=at(march, 13))
    await act(db, s.citizen, dossier_id, "accept", ActionInput(), now=at(march, 14))
    await act(db, s.body, dossier_id, "declare_entry", ActionInput(), now=at(dt.date(2026, 4, 1)))
    done = ActionInput(completion_basis_points=10_000)
    await act(db, s.body, dossier_id, "declare_exit", done, now=at(declared_on))
    return dossier_id


async def test_service_done_is_validated_on_the_fifth_working_day_over_1_and_8_may(
    db: asyncpg.Connection,
) -> None:
    """Declared Thursday 30 April 2026: 1 May and 8 May are holidays, so the fifth working day
    is Monday 11 May, when the server validates it and the hold is posted."""
    s = await setting(
        db, starts_on=dt.date(2026, 4, 1), price_cents=PRICE, now=at(dt.date(2026, 3, 2), 8)
    )
    dossier_id = await _declared(db, s, dt.date(2026, 4, 30))
    assert await sweep(db, dt.date(2026, 5, 8)) == 0
    assert await state_of(db, dossier_id) == "serviceDoneDeclared"
    assert await sweep(db, dt.date(2026, 5, 11)) == 1
    assert await state_of(db, dossier_id) == "serviceDoneValidated"
    status = await db.fetchval(
        "select h.status from cpf_holds h join dossiers d on d.hold_id = h.id where d.id = $1",
        dossier_id,
    )
    assert status == "posted"
    assert (await verify_ledger(db)).ok


async def test_an_open_control_stops_the_automatic_validation(db: asyncpg.Connection) -> None:
    s = await setting(
        db, starts_on=dt.date(2026, 4, 1), price_cents=PRICE, now=at(dt.date(2026, 3, 2), 8)
    )
    dossier_id = await _declared(db, s, dt.date(2026, 4, 30))
    await act(
        db, s.financer, dossier_id, "open_control", ActionInput(), now=at(dt.date(2026, 5, 4))
    )
    assert await sweep(db, dt.date(2026, 6, 30)) == 0
    assert await state_of(db, dossier_id) == "serviceDoneDeclared"


async def test_the_periodic_job_runs_with_the_injected_clock(db: asyncpg.Connection) -> None:
    """The job as the app schedules it (cpa.periodic), its clock set past the deadline."""
    friday = dt.date(2026, 5, 22)
    s = await setting(db, starts_on=dt.date(2026, 7, 1), price_cents=PRICE, now=at(friday))
    dossier_id = await new_dossier(db, s, friday)
    ran = asyncio.Event()

    async def job(database: Database, now: dt.datetime) -> int:
        moved = await sweep_deadlines(database, now)
        ran.set()  # the test's connection is the job's: read it only once the run is over
        return moved

    periodic = Periodic(
        job, event="dossier_deadlines_applied", interval_s=3600,
        clock=lambda: at(dt.date(2026, 5, 28)),
    )  # fmt: skip
    periodic.start(ConnectionDatabase(db))
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)
    finally:
        await periodic.stop()
    assert await state_of(db, dossier_id) == "canceledByOrganism"
