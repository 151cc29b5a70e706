"""Holds under real concurrency: the account is never overdrawn, whatever races."""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import UUID

import asyncpg
import pytest

from cpa.idempotency import IdempotencyConflict, claim
from cpa.ledger import (
    InsufficientRights,
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    credit_year,
    verify_ledger,
)
from cpa.ledger.models import Provenance
from tests.ledger.support import NOW, TODAY, declare_year, new_person

REQUESTS = 1_000
ROOM_FOR = 137  # holds the account can pay for
AMOUNT_CENTS = 1_234
POOL_SIZE = 32


@pytest.mark.slow
@pytest.mark.parametrize("pot", ["dotation", "cpf_statutory"])
async def test_1000_racing_holds_exactly_n_succeed(fresh_dsn: str, pot: str) -> None:
    """Statutory rights may be negative (a debt), so no CHECK constraint stands behind the
    lock there: this case proves the lock itself (a hold reads balances after taking it)."""
    setup = await asyncpg.connect(fresh_dsn)
    try:
        person = await new_person(setup)
        await _fund(setup, person.id, pot)
        room_cents = await setup.fetchval(
            "select balance from ledger_balances where person_id = $1 and pot = $2",
            person.id,
            pot,
        )
    finally:
        await setup.close()
    room_for = room_cents // AMOUNT_CENTS
    new = NewHold(
        amount_cents=AMOUNT_CENTS, training_reference="T", expires_at=NOW + dt.timedelta(days=1)
    )
    pool = await asyncpg.create_pool(fresh_dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    assert pool is not None

    async def one() -> bool:
        async with pool.acquire() as connection:
            try:
                await create_hold(connection, person.id, new, now=NOW)
                return True
            except InsufficientRights:
                return False

    try:
        outcomes = await asyncio.gather(*(one() for _ in range(REQUESTS)))
        async with pool.acquire() as connection:
            report = await verify_ledger(connection)
            held = await connection.fetchval(
                "select balance from ledger_balances where person_id = $1 and pot = 'cpf_held'",
                person.id,
            )
    finally:
        await pool.close()
    assert outcomes.count(True) == room_for
    assert outcomes.count(False) == REQUESTS - room_for
    assert held == room_for * AMOUNT_CENTS
    assert report.ok, report.mismatches


async def _fund(db: asyncpg.Connection, person_id: UUID, pot: str) -> None:
    if pot == "dotation":
        grant = NewGrant(pot="dotation", amount_cents=ROOM_FOR * AMOUNT_CENTS, financer="ACME")
        await add_grant(db, person_id, grant, today=TODAY)
    else:  # a full-time year: 500 € of statutory rights
        await declare_year(db, person_id, 2024)
        await credit_year(db, person_id, 2024, today=TODAY)


REPEATS = 50


@pytest.mark.slow
async def test_racing_repeats_of_one_keyed_hold_create_it_once(fresh_dsn: str) -> None:
    """The key is written at the end of the hold: a repeat racing the first request waits
    for the person's lock, then answers the first one's hold and writes nothing."""
    setup = await asyncpg.connect(fresh_dsn)
    try:
        person = await new_person(setup)
        await _fund(setup, person.id, "dotation")
    finally:
        await setup.close()
    new = NewHold(amount_cents=100, training_reference="T", expires_at=NOW + dt.timedelta(days=1))
    by = Provenance(client_id="tb", token_jti="j", idempotency_key="K")
    key = claim("tb", "K", operation=f"createHold {person.id}", request=new, now=NOW)
    pool = await asyncpg.create_pool(fresh_dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    assert pool is not None

    async def one() -> UUID:
        async with pool.acquire() as connection:
            hold = await create_hold(connection, person.id, new, now=NOW, provenance=by, claim=key)
            return hold.id

    try:
        ids = await asyncio.gather(*(one() for _ in range(REPEATS)))
        async with pool.acquire() as connection:
            holds = await connection.fetchval("select count(*) from cpf_holds")
            report = await verify_ledger(connection)
    finally:
        await pool.close()
    assert len(set(ids)) == 1
    assert holds == 1
    assert report.ok, report.mismatches


@pytest.mark.slow
async def test_one_key_racing_on_two_persons_writes_for_one_only(fresh_dsn: str) -> None:
    """A key taken by another person's hold between the lookup and the final insert rolls
    the whole hold back: a conflict, with nothing written for the second person."""
    first, second = await asyncpg.connect(fresh_dsn), await asyncpg.connect(fresh_dsn)
    try:
        persons = [await new_person(first) for _ in range(2)]
        for person in persons:
            await _fund(first, person.id, "dotation")
        new = NewHold(
            amount_cents=100, training_reference="T", expires_at=NOW + dt.timedelta(days=1)
        )
        by = Provenance(client_id="tb", token_jti="j", idempotency_key="K")
        claims = [
            claim("tb", "K", operation=f"createHold {p.id}", request=new, now=NOW) for p in persons
        ]
        transaction = first.transaction()
        await transaction.start()  # the first hold's key stays uncommitted
        await create_hold(first, persons[0].id, new, now=NOW, provenance=by, claim=claims[0])
        racing = asyncio.ensure_future(
            create_hold(second, persons[1].id, new, now=NOW, provenance=by, claim=claims[1])
        )
        await asyncio.sleep(0.3)  # the second hold waits on the key at its final insert
        assert not racing.done()
        await transaction.commit()
        with pytest.raises(IdempotencyConflict):
            await racing
        written = await second.fetchval(
            "select count(*) from cpf_holds where person_id = $1", persons[1].id
        )
        report = await verify_ledger(second)
    finally:
        await first.close()
        await second.close()
    assert written == 0
    assert report.ok, report.mismatches
