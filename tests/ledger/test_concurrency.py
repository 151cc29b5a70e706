"""Holds under real concurrency: the account is never overdrawn, whatever races."""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import UUID

import asyncpg
import pytest

from cpa.ledger import (
    InsufficientRights,
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    credit_year,
    verify_ledger,
)
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
        amount_cents=AMOUNT_CENTS, training_ref="T", expires_at=NOW + dt.timedelta(days=1)
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
