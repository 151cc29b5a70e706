"""Crediting: rules applied to declarations, idempotent, corrections as adjustments (OQ-5)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from cpa.declarations import (
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
    decide_engagements,
    declare_activities,
    declare_engagements,
    declare_exposures,
)
from cpa.ledger import (
    NewHold,
    YearNotClosed,
    create_hold,
    credit_year,
    get_account,
    post_hold,
    verify_ledger,
)
from tests.ledger.support import FULL_TIME, NOW, TODAY, activity_line, declare_year, new_person
from tests.support.processes import cpa_env

ALL = ("cpf:read", "cec:read", "c2p:read", "services:read")


async def balances(db: asyncpg.Connection, person_id: object) -> dict[str, int]:
    rows = await db.fetch(
        "select pot, sum(balance)::bigint as b from ledger_balances"
        " where person_id = $1 group by pot",
        person_id,
    )
    return {row["pot"]: row["b"] for row in rows}


async def test_a_full_time_year_credits_500_euros_once(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    first = await credit_year(db, person.id, 2024, today=TODAY)
    again = await credit_year(db, person.id, 2024, today=TODAY)
    assert [(line.account, line.delta, line.kind) for line in first.lines] == [
        ("cpf", 50_000, "accrual")
    ]
    assert [line.kind for line in again.lines] == ["unchanged"]
    assert (await balances(db, person.id)) == {"cpf_statutory": 50_000}
    assert (await verify_ledger(db)).ok


async def test_a_corrected_declaration_posts_the_difference(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    await declare_year(db, person.id, 2024, worked_centihours=FULL_TIME * 4 // 10)
    result = await credit_year(db, person.id, 2024, today=TODAY)
    assert [(line.kind, line.delta, line.amount) for line in result.lines] == [
        ("adjustment", -30_000, 20_000)
    ]
    kinds = await db.fetch(
        "select kind, amount from ledger_entries where person_id = $1 order by id", person.id
    )
    assert [(r["kind"], r["amount"]) for r in kinds] == [
        ("accrual", 50_000),
        ("adjustment", -30_000),
    ]
    assert (await verify_ledger(db)).ok


async def test_a_negative_adjustment_beyond_rights_leaves_a_debt_repaid_first(
    db: asyncpg.Connection,
) -> None:
    """OQ-5: the rights were spent, the correction takes them back: a debt, repaid next year."""
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    hold = await create_hold(
        db, person.id, NewHold(amount_cents=50_000, training_reference="T1",
                               expires_at=NOW + dt.timedelta(days=30)), now=NOW
    )  # fmt: skip
    await post_hold(db, person.id, hold.id, 50_000, now=NOW)
    await declare_year(db, person.id, 2024, worked_centihours=0)
    await credit_year(db, person.id, 2024, today=TODAY)
    account = await get_account(db, person.id, ALL, now=NOW)
    assert account.cpf is not None
    assert (account.cpf.debt_cents, account.cpf.available_cents) == (50_000, 0)
    await declare_year(db, person.id, 2025, worked_centihours=FULL_TIME * 6 // 10)
    await credit_year(db, person.id, 2025, today=TODAY)
    account = await get_account(db, person.id, ALL, now=NOW)
    assert account.cpf is not None
    assert (account.cpf.debt_cents, account.cpf.statutory_cents) == (0, 0)
    assert (await verify_ledger(db)).ok


async def test_hours_years_are_converted_at_15_euros_an_hour(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    for year in range(2015, 2020):
        await declare_year(db, person.id, year)
    for year in range(2015, 2018):
        await credit_year(db, person.id, year, today=dt.date(year + 1, 4, 15))
    assert (await balances(db, person.id)) == {"cpf_hours": 72}
    # The 2018 campaign runs in 2019: the stock is converted in the same transaction.
    await credit_year(db, person.id, 2018, today=dt.date(2019, 4, 15))
    assert (await balances(db, person.id)) == {"cpf_hours": 0, "cpf_statutory": 96 * 1500}
    await credit_year(db, person.id, 2019, today=dt.date(2020, 4, 15))
    assert (await balances(db, person.id)) == {"cpf_hours": 0, "cpf_statutory": 96 * 1500 + 50_000}
    assert (await verify_ledger(db)).ok


async def test_the_ceiling_stops_the_statutory_balance_at_5000_euros(
    db: asyncpg.Connection,
) -> None:
    person = await new_person(db)
    later = dt.date(2030, 1, 1)
    lines = [activity_line(person.id, year) for year in range(2015, 2028)]
    assert (await declare_activities(db, lines, today=later)).accepted == len(lines)
    for year in range(2015, 2026):
        await credit_year(db, person.id, year, today=dt.date(year + 1, 4, 15))
    assert (await balances(db, person.id))["cpf_statutory"] == 96 * 1500 + 7 * 50_000
    result = await credit_year(db, person.id, 2026, today=dt.date(2027, 4, 15))
    assert [line.delta for line in result.lines] == [500_000 - 494_000]
    result = await credit_year(db, person.id, 2027, today=dt.date(2028, 4, 15))
    assert [(line.delta, line.kind) for line in result.lines] == [(0, "accrual")]
    assert (await balances(db, person.id))["cpf_statutory"] == 500_000


async def test_only_validated_engagements_credit_the_cec(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    line = EngagementDeclaration(
        person_id=person.id, year=2024, organisation="Restos du cœur",
        kind="associative_volunteering", hours=250, hours_in_one_organisation=250,
        role="board_member",
    )  # fmt: skip
    declared = await declare_engagements(db, [line], today=TODAY)
    engagement_id = declared.lines[0].id
    assert engagement_id is not None
    assert (await credit_year(db, person.id, 2024, today=TODAY)).lines == []
    decision = EngagementDecision(engagement_id=engagement_id, decision="validated")
    await decide_engagements(db, [decision], now=NOW)
    result = await credit_year(db, person.id, 2024, today=TODAY)
    assert [(line.account, line.delta) for line in result.lines] == [("cec", 24_000)]
    again = await decide_engagements(db, [decision], now=NOW)
    assert again.lines[0].problem is not None
    assert again.lines[0].problem["type"] == "urn:cpa:problem:engagement-already-decided"


async def test_night_work_earns_c2p_points(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    line = ExposureDeclaration(
        person_id=person.id, year=2024, contract_ref="C-1",
        contract_start=dt.date(2020, 1, 1), contract_end=dt.date(2030, 12, 31),
        factors={"night_work": 150},
    )  # fmt: skip
    await declare_exposures(db, [line], today=TODAY)
    result = await credit_year(db, person.id, 2024, today=TODAY)
    assert [(line.account, line.delta, line.unit) for line in result.lines] == [
        ("c2p", 4, "points")
    ]


async def test_the_current_year_is_not_credited_yet(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    with pytest.raises(YearNotClosed):
        await credit_year(db, person.id, TODAY.year, today=TODAY)


@pytest.mark.parametrize("year", [TODAY.year, TODAY.year + 4, 2014, 1990])
def test_the_credit_command_refuses_a_year_nobody_declared_as_it_refuses_the_open_year(
    fresh_dsn: str, tmp_path: Path, year: int
) -> None:
    """A future year exited 0 (nobody had declared it), the open year exit 2: both are 2."""
    done = subprocess.run(
        [sys.executable, "-m", "cpa", "credit", "--year", str(year), "--today", TODAY.isoformat()],
        capture_output=True,
        env=cpa_env(database_url=fresh_dsn, data_dir=str(tmp_path)),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    problem = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert problem["type"] == "urn:cpa:problem:year-not-closed"
