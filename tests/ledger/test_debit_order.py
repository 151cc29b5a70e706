"""The debit order is the rule's (cpa/rules/debit.py): SQL draws in the order it is given, and
every hold's allocations and entries record the parameter they followed."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from cpa.ledger import InsufficientRights, NewGrant, NewHold, add_grant, create_hold, credit_year
from cpa.rules.debit import debit_order
from tests.ledger.support import NOW, TODAY, declare_year, new_person

LATER = NOW.replace(year=NOW.year + 1)


async def _person_with_three_sources(db: asyncpg.Connection) -> asyncpg.Record:
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)  # 500 € statutory
    for pot, earmarked in (("abondement", False), ("dotation", False)):
        grant = NewGrant(pot=pot, amount_cents=10_000, financer="ACME", earmarked=earmarked)
        await add_grant(db, person.id, grant, today=TODAY)
    return person


async def test_every_allocation_records_the_rule_it_followed(db: asyncpg.Connection) -> None:
    person = await _person_with_three_sources(db)
    hold = NewHold(amount_cents=65_000, training_reference="RNCP-1", expires_at=LATER)
    created = await create_hold(db, person.id, hold, now=NOW)
    rule = debit_order(NOW.date())
    assert [a.pot for a in created.allocations] == ["dotation", "cpf_statutory", "abondement"]
    rows = await db.fetch(
        "select rule_id, parameter_effective_from, legal_reference from cpf_hold_allocations"
        " where hold_id = $1 union all"
        " select rule_id, parameter_effective_from, legal_reference from ledger_entries"
        " where hold_id = $1",
        created.id,
    )
    assert len(rows) == 3 + 4  # three allocations; three debits and the held credit
    expected = ("cpf.debit.order", rule.parameter.effective_from, "CT R6333-3")
    assert {tuple(row) for row in rows} == {expected}


async def test_sql_draws_in_the_order_it_is_given(db: asyncpg.Connection) -> None:
    """No copy of the order in SQL: reversing the order passed in reverses the draw."""
    person = await _person_with_three_sources(db)
    order = debit_order(NOW.date()).sources
    draw = (
        'select array_agg(pot order by draw_key collate "C") from'
        " pots_for_debit($1, $2, 'RNCP-1', false, $3, '{}') where usable"
    )
    assert await db.fetchval(draw, person.id, TODAY, order) == [
        "dotation", "cpf_statutory", "abondement",
    ]  # fmt: skip
    reversed_order = list(reversed(order))
    assert await db.fetchval(draw, person.id, TODAY, reversed_order) == [
        "abondement", "cpf_statutory", "dotation",
    ]  # fmt: skip
    without_abondements = [s for s in order if s != "abondement"]
    assert await db.fetchval(draw, person.id, TODAY, without_abondements) == [
        "dotation", "cpf_statutory",
    ]  # fmt: skip


async def test_after_full_rate_retirement_only_the_sources_given_fund_a_debit(
    db: asyncpg.Connection,
) -> None:
    """The rule names what stays usable after retirement (CEC rights); SQL only applies it."""
    person = await new_person(db, full_rate_retirement_on=dt.date(2025, 1, 1))
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)  # statutory rights, before retirement
    rule = debit_order(TODAY)
    usable = (
        "select coalesce(array_agg(pot), '{}') from"
        " pots_for_debit($1, $2, null, true, $3, $4) where usable"
    )
    assert rule.after_retirement == ["cec"]
    assert await db.fetchval(usable, person.id, TODAY, rule.sources, rule.after_retirement) == []
    assert await db.fetchval(usable, person.id, dt.date(2024, 12, 31), rule.sources,
                             rule.after_retirement) == ["cpf_statutory"]  # fmt: skip
    assert await db.fetchval(usable, person.id, TODAY, rule.sources, ["cpf_statutory"]) == [
        "cpf_statutory"
    ]
    with pytest.raises(InsufficientRights):
        hold = NewHold(amount_cents=1, training_reference="RNCP-1", expires_at=LATER)
        await create_hold(db, person.id, hold, now=NOW)
