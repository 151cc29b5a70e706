"""The account read as one row (issue 16 point 3): the person's ledger row holds what the
account shows, the read agrees with the balance rows whatever the sources, dates and stop
dates, settles its pending-expiry bound past it, and ``ledger verify`` finds a row that drifted."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import asyncpg
import pytest

from cpa.db.queries import sql
from cpa.ledger import NewGrant, NewHold, add_grant, create_hold, get_account, verify_ledger
from cpa.rules.debit import debit_order
from tests.ledger.support import NOW, TODAY
from tests.ledger.test_account import EVERYTHING, career

DAY = dt.timedelta(days=1)


async def _exact_available(db: asyncpg.Connection, person_id: UUID, now: dt.datetime) -> int:
    order = debit_order(now.date())
    query = sql("get_account_available")
    found = await db.fetchval(query, person_id, now.date(), order.sources, order.after_retirement)
    return int(found)


async def _with_grants(db: asyncpg.Connection) -> UUID:
    """A career (statutory euros, C2P points) with a grant of each debit source, one of them
    usable until TODAY + 30 days."""
    person_id = await career(db)
    grants = [
        NewGrant(pot="abondement", amount_cents=10_000, financer="region"),
        NewGrant(pot="dotation", amount_cents=20_000, financer="ACME"),
        NewGrant(pot="abondement", amount_cents=40_000, financer="region", earmarked=True,
                 training_reference="T-1", use_by=TODAY + 30 * DAY),
    ]  # fmt: skip
    for grant in grants:
        await add_grant(db, person_id, grant, today=TODAY)
    return person_id


@pytest.mark.parametrize("days", [0, 30, 31, 300])
async def test_the_row_agrees_with_the_balance_rows(db: asyncpg.Connection, days: int) -> None:
    """Before, on and after a grant's use-by date (past it the read takes the exact path)."""
    person_id = await _with_grants(db)
    hold = NewHold(amount_cents=15_000, training_reference="T-9", expires_at=NOW + 360 * DAY)
    await create_hold(db, person_id, hold, now=NOW)
    now = NOW + days * DAY
    account = await get_account(db, person_id, EVERYTHING, now=now)
    assert account.cpf is not None
    assert account.cpf.available_cents == await _exact_available(db, person_id, now)
    assert account.cpf.abondements_cents == 70_000 - 15_000  # the hold drew on the dotation
    assert (await verify_ledger(db)).ok


@pytest.mark.parametrize("stop", ["full_rate_retirement_on", "death_on"])
async def test_stop_dates_apply_as_in_pots_for_debit(db: asyncpg.Connection, stop: str) -> None:
    person_id = await _with_grants(db)
    await db.execute(f"update persons set {stop} = $2 where id = $1", person_id, TODAY)
    account = await get_account(db, person_id, EVERYTHING, now=NOW)
    assert account.cpf is not None
    assert account.cpf.available_cents == await _exact_available(db, person_id, NOW)


async def test_a_read_past_a_pending_expiry_releases_and_settles(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    soon, later = NOW + DAY, NOW + 10 * DAY
    for expires_at in (soon, later):
        hold = NewHold(amount_cents=1_000, training_reference="T-1", expires_at=expires_at)
        await create_hold(db, person_id, hold, now=NOW)
    bound = "select next_pending_expiry from ledger_locks where person_id = $1"
    assert await db.fetchval(bound, person_id) == soon
    account = await get_account(db, person_id, EVERYTHING, now=soon + DAY)
    assert account.cpf is not None and account.cpf.held_cents == 1_000  # the first one lapsed
    assert await db.fetchval(bound, person_id) == later
    assert (await verify_ledger(db)).ok


@pytest.mark.parametrize(
    "drift",
    [
        "c2p_points = c2p_points + 1",
        "abondement_cents = abondement_cents - 1",
        "grants_use_by_min = null",
        "next_pending_expiry = next_pending_expiry + interval '1 second'",
    ],
)
async def test_verify_finds_a_row_that_drifted(db: asyncpg.Connection, drift: str) -> None:
    person_id = await _with_grants(db)
    hold = NewHold(amount_cents=1_000, training_reference="T-1", expires_at=NOW + DAY)
    await create_hold(db, person_id, hold, now=NOW)
    assert (await verify_ledger(db)).ok
    await db.execute(f"update ledger_locks set {drift} where person_id = $1", person_id)
    report = await verify_ledger(db)
    assert not report.ok
    assert [m.person_id for m in report.mismatches] == [person_id]


async def test_the_read_is_one_row_of_one_relation(db: asyncpg.Connection) -> None:
    """No join, no subplan: the person's ledger row only (by its primary key once the table
    is large; a test database's small table may be scanned)."""
    person_id = await career(db)
    plan = await db.fetchval("explain (format json, costs off) " + sql("get_account"), person_id)
    assert '"Relation Name": "ledger_locks"' in plan and '"Plans"' not in plan
    assert plan.count('"Relation Name"') == 1
