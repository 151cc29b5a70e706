"""Holds: debit order, post/void/expiry, refusals that write nothing."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import asyncpg
import msgspec
import pytest

from cpa.db.queries import sql
from cpa.errors import CpaError
from cpa.ledger import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotPending,
    InsufficientRights,
    InvalidAmount,
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    credit_year,
    expire_holds,
    get_account,
    get_hold,
    post_hold,
    verify_ledger,
    void_hold,
)
from cpa.ledger.allocation import Holder, Source, allocate, debit_order
from tests.ledger.support import NOW, TODAY, declare_year, new_person

LATER = NOW + dt.timedelta(days=30)


def hold(
    amount_cents: int, training_ref: str = "RNCP-1", expires_at: dt.datetime = LATER
) -> NewHold:
    return NewHold(amount_cents=amount_cents, training_ref=training_ref, expires_at=expires_at)


async def funded(db: asyncpg.Connection) -> UUID:
    """A person with 500 € statutory, 240 € CEC-like dotation layout: statutory + dotation."""
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    return person.id


async def count_entries(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("select count(*) from ledger_entries"))


async def test_earmarked_grants_are_drawn_first_then_statutory(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    await add_grant(db, person_id, NewGrant(pot="abondement", amount_cents=10_000,
                                            financer="OPCO"), today=TODAY)  # fmt: skip
    await add_grant(db, person_id, NewGrant(pot="dotation", amount_cents=20_000,
                                            financer="ACME"), today=TODAY)  # fmt: skip
    created = await create_hold(db, person_id, hold(60_000), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [
        ("dotation", 20_000),
        ("cpf_statutory", 40_000),
    ]
    account = await get_account(db, person_id, ["cpf:read"], now=NOW)
    assert account.cpf is not None
    assert (account.cpf.held_cents, account.cpf.available_cents) == (60_000, 20_000)
    assert (await verify_ledger(db)).ok


async def test_a_partial_post_releases_the_rest_where_it_came_from(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    created = await create_hold(db, person_id, hold(30_000), now=NOW)
    posted = await post_hold(db, person_id, created.id, 10_000, now=NOW)
    assert (posted.status, posted.posted_cents) == ("posted", 10_000)
    account = await get_account(db, person_id, ["cpf:read"], now=NOW)
    assert account.cpf is not None
    assert (account.cpf.held_cents, account.cpf.statutory_cents) == (0, 40_000)
    with pytest.raises(HoldNotPending):
        await void_hold(db, person_id, created.id, now=NOW)
    assert (await verify_ledger(db)).ok


async def test_bad_requests_are_refused_and_write_nothing(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    voided = await create_hold(db, person_id, hold(10_000), now=NOW)
    await void_hold(db, person_id, voided.id, now=NOW)
    pending = await create_hold(db, person_id, hold(10_000), now=NOW)
    short = await create_hold(db, person_id, hold(10_000, expires_at=NOW + dt.timedelta(hours=1)),
                              now=NOW)  # fmt: skip
    before = await count_entries(db)
    later = NOW + dt.timedelta(hours=2)
    attempts: list[tuple[type[CpaError], object]] = [
        (InvalidAmount, create_hold(db, person_id, hold(0), now=NOW)),
        (InvalidAmount, create_hold(db, person_id, hold(-5), now=NOW)),
        (InsufficientRights, create_hold(db, person_id, hold(50_001), now=NOW)),
        (AmountBeyondHeld, post_hold(db, person_id, pending.id, 10_001, now=NOW)),
        (InvalidAmount, post_hold(db, person_id, pending.id, 0, now=NOW)),
        (HoldNotPending, post_hold(db, person_id, voided.id, 1, now=NOW)),
        (HoldExpired, post_hold(db, person_id, short.id, 1, now=later)),
        (CpaError, create_hold(db, person_id, hold(1, expires_at=NOW), now=NOW)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            await attempt  # type: ignore[misc]
    assert await count_entries(db) == before
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(
            b'{"amount_cents": 1, "training_ref": "x", "expires_at": "2030-01-01T00:00:00Z",'
            b' "person_id": "x"}',
            type=NewHold,
        )


async def test_expiry_releases_the_rights(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    short = await create_hold(db, person_id, hold(50_000, expires_at=NOW + dt.timedelta(hours=1)),
                              now=NOW)  # fmt: skip
    later = NOW + dt.timedelta(hours=2)
    account = await get_account(db, person_id, ["cpf:read"], now=later)
    assert account.cpf is not None
    assert account.cpf.available_cents == 50_000  # lazily released on read
    # a new hold releases the lapsed one under the lock
    again = await create_hold(db, person_id, hold(50_000, expires_at=later + dt.timedelta(days=1)),
                              now=later)  # fmt: skip
    assert (await get_hold(db, person_id, short.id)).status == "expired"
    assert await expire_holds(db, later + dt.timedelta(days=2)) == 1
    assert (await get_hold(db, person_id, again.id)).status == "expired"
    assert (await verify_ledger(db)).ok


async def test_entries_cannot_be_updated_or_deleted(db: asyncpg.Connection) -> None:
    await funded(db)
    for statement in ("update ledger_entries set amount = 1", "delete from ledger_entries"):
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            async with db.transaction():
                await db.execute(statement)


async def _reference_allocation(
    db: asyncpg.Connection, person_id: UUID, new: NewHold
) -> list[tuple[str, UUID | None, int]] | None:
    """What cpa/ledger/allocation.py (the reference) allocates; None when it refuses."""
    rows = await db.fetch(sql("list_cpf_sources"), person_id)
    sources = [
        Source(pot=r["pot"], grant_id=r["grant_id"], balance_cents=r["balance"],
               earmarked=r["earmarked"], training_ref=r["training_ref"], use_by=r["use_by"])
        for r in rows
    ]  # fmt: skip
    holder = Holder()
    if rows:
        holder = Holder(
            full_rate_retirement_on=rows[0]["full_rate_retirement_on"], death_on=rows[0]["death_on"]
        )
    ordered = debit_order(sources, holder, new.training_ref, NOW.date())
    try:
        return [(a.pot, a.grant_id, a.amount_cents) for a in allocate(new.amount_cents, ordered)]
    except InsufficientRights:
        return None


@pytest.mark.parametrize("retired", [False, True])
async def test_the_hold_function_allocates_as_the_reference_debit_order(
    db: asyncpg.Connection, retired: bool
) -> None:
    """cpf_hold_create (SQL, one statement) and allocation.py agree on every split."""
    status = {"full_rate_retirement_on": TODAY} if retired else {}
    person = await new_person(db, **status)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    grants = [
        NewGrant(pot="dotation", amount_cents=20_000, financer="A", use_by=TODAY.replace(day=30)),
        NewGrant(pot="abondement", amount_cents=10_000, financer="B", earmarked=True,
                 use_by=TODAY.replace(day=10)),
        NewGrant(pot="abondement", amount_cents=5_000, financer="C", earmarked=True,
                 training_ref="RNCP-2"),
        NewGrant(pot="abondement", amount_cents=7_000, financer="D"),
        NewGrant(pot="dotation", amount_cents=3_000, financer="E"),
    ]  # fmt: skip
    for grant in grants:
        await add_grant(db, person.id, grant, today=TODAY)
    for amount in (1, 5_000, 10_000, 15_000, 33_001, 80_000, 92_000, 95_000, 95_001):
        for ref in ("RNCP-1", "RNCP-2"):
            new = hold(amount, training_ref=ref)
            expected = await _reference_allocation(db, person.id, new)
            savepoint = db.transaction()
            await savepoint.start()
            try:
                created = await create_hold(db, person.id, new, now=NOW)
                got = [(a.pot, a.grant_id, a.amount_cents) for a in created.allocations]
            except InsufficientRights:
                got = None
            finally:
                await savepoint.rollback()
            assert got == expected, (amount, ref)
