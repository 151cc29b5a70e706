"""Holds under real concurrency: the account is never overdrawn, whatever races."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from cpa.ledger import InsufficientRights, NewGrant, NewHold, add_grant, create_hold, verify_ledger
from tests.ledger.support import NOW, TODAY, new_person

REQUESTS = 1_000
ROOM_FOR = 137  # holds the account can pay for
AMOUNT_CENTS = 1_234
POOL_SIZE = 32


@pytest.mark.slow
async def test_1000_racing_holds_exactly_n_succeed(fresh_dsn: str) -> None:
    setup = await asyncpg.connect(fresh_dsn)
    try:
        person = await new_person(setup)
        grant = NewGrant(pot="dotation", amount_cents=ROOM_FOR * AMOUNT_CENTS, financer="ACME")
        await add_grant(setup, person.id, grant, today=TODAY)
    finally:
        await setup.close()
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
    assert outcomes.count(True) == ROOM_FOR
    assert outcomes.count(False) == REQUESTS - ROOM_FOR
    assert held == ROOM_FOR * AMOUNT_CENTS
    assert report.ok, report.mismatches
