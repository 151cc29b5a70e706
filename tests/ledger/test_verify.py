"""``ledger verify`` proves more than balances = entries: no pot that may not owe is below zero,
and every hold's allocations add up to it (each check shown finding what it looks for)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from cpa.ledger import NewGrant, add_grant, create_hold, verify_ledger
from cpa.ledger.models import NewHold
from tests.ledger.support import NOW
from tests.ledger.test_account import career


async def _hold(db: asyncpg.Connection, *, granted: bool = False) -> tuple[object, object]:
    """A hold on a career's account; ``granted``: with a dotation, so that the debit order
    allocates it (a hold that statutory rights alone pay for has no allocation row)."""
    person_id = await career(db)
    if granted:
        grant = NewGrant(pot="dotation", amount_cents=10_000, financer="ACME")
        await add_grant(db, person_id, grant, today=NOW.date())
    new = NewHold(amount_cents=300, training_reference="T", expires_at=NOW + dt.timedelta(days=1))
    hold = await create_hold(db, person_id, new, now=NOW)
    assert (await verify_ledger(db)).ok
    return person_id, hold.id


async def test_verify_finds_a_pot_that_may_not_owe_below_zero(db: asyncpg.Connection) -> None:
    person_id, _ = await _hold(db)
    # What the constraint refuses, written as a restore without constraints could.
    await db.execute("alter table ledger_balances drop constraint ledger_balances_no_overdraft")
    await db.execute(
        "update ledger_balances set balance = -1 where person_id = $1 and pot = 'cpf_held'",
        person_id,
    )
    report = await verify_ledger(db)
    assert [(m.person_id, m.pot, m.balance) for m in report.overdrawn] == [
        (person_id, "cpf_held", -1)
    ]
    assert not report.ok


async def test_a_debt_in_an_account_s_own_pot_is_no_overdraft(db: asyncpg.Connection) -> None:
    person_id, _ = await _hold(db)
    await db.execute(
        "update ledger_balances set balance = -100 where person_id = $1 and pot = 'c2p'",
        person_id,
    )
    assert (await verify_ledger(db)).overdrawn == []


async def test_verify_finds_a_hold_whose_allocations_do_not_add_up(
    db: asyncpg.Connection,
) -> None:
    _, hold_id = await _hold(db, granted=True)
    await db.execute(
        "update cpf_hold_allocations set amount_cents = amount_cents - 1 "
        "where hold_id = $1 and seq = 1",
        hold_id,
    )
    report = await verify_ledger(db)
    assert report.unbalanced_holds == [hold_id] and not report.ok
