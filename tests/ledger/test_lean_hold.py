"""The lean hold (issue 16): a hold that statutory rights alone cover is one conditional UPDATE
of the person's ledger row (``cpf_hold_lean``); any other goes through the debit order
(``cpf_hold_create``), and both keep the row's columns equal to the balances they mirror."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from cpa.ledger import NewGrant, NewHold, add_grant, create_hold, verify_ledger
from tests.ledger.support import NOW, TODAY
from tests.ledger.test_holds import funded

LATER = NOW + dt.timedelta(days=30)


def hold(amount_cents: int) -> NewHold:
    return NewHold(amount_cents=amount_cents, training_reference="RNCP-1", expires_at=LATER)


async def without(db: asyncpg.Connection, function: str) -> None:
    """Take ``function`` out of reach for the rest of the test's transaction (rolled back)."""
    await db.execute(f"alter function {function} rename to {function}_out_of_reach")


async def ledger_row(db: asyncpg.Connection, person_id: object) -> tuple[int, int]:
    row = await db.fetchrow(
        "select statutory_cents, held_cents from ledger_locks where person_id = $1", person_id
    )
    assert row is not None
    return row["statutory_cents"], row["held_cents"]


async def balance(db: asyncpg.Connection, person_id: object, pot: str) -> int:
    value = await db.fetchval(
        "select balance from ledger_balances where person_id = $1 and pot = $2", person_id, pot
    )
    return int(value or 0)


async def test_a_hold_statutory_rights_cover_takes_the_lean_path(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    await without(db, "cpf_hold_create")
    statutory = await balance(db, person_id, "cpf_statutory")
    created = await create_hold(db, person_id, hold(12_345), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [("cpf_statutory", 12_345)]
    assert await ledger_row(db, person_id) == (statutory - 12_345, 12_345)
    assert await balance(db, person_id, "cpf_statutory") == statutory - 12_345
    assert (await verify_ledger(db)).ok


async def test_an_earmarked_grant_sends_the_hold_to_the_debit_order(
    db: asyncpg.Connection,
) -> None:
    person_id = await funded(db)
    grant = NewGrant(pot="dotation", amount_cents=10_000, financer="ACME")
    await add_grant(db, person_id, grant, today=TODAY)
    statutory = await balance(db, person_id, "cpf_statutory")
    savepoint = db.transaction()  # the debit order out of reach here only
    await savepoint.start()
    await without(db, "cpf_hold_create")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await create_hold(db, person_id, hold(30_000), now=NOW)
    await savepoint.rollback()
    created = await create_hold(db, person_id, hold(30_000), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [
        ("dotation", 10_000),
        ("cpf_statutory", 20_000),
    ]
    assert await ledger_row(db, person_id) == (statutory - 20_000, 30_000)
    assert (await verify_ledger(db)).ok


async def test_verify_finds_a_ledger_row_that_disagrees_with_its_balances(
    db: asyncpg.Connection,
) -> None:
    person_id = await funded(db)
    await create_hold(db, person_id, hold(300), now=NOW)
    await db.execute(
        "update ledger_locks set held_cents = held_cents + 1 where person_id = $1", person_id
    )
    report = await verify_ledger(db)
    assert [(m.person_id, m.pot, m.balance, m.entries_sum) for m in report.mismatches] == [
        (person_id, "cpf_held (ledger row)", 301, 300)
    ]


async def test_a_lean_hold_refuses_a_ledger_row_ahead_of_its_balances(
    db: asyncpg.Connection,
) -> None:
    """The row said more than the balance: the hold is undone, not written."""
    person_id = await funded(db)
    await db.execute(
        "update ledger_locks set statutory_cents = statutory_cents + 1 where person_id = $1",
        person_id,
    )
    with pytest.raises(asyncpg.RaiseError, match="disagrees with its balances"):
        await create_hold(db, person_id, hold(300), now=NOW)
