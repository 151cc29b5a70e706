"""What SQL receives from the rules as generated constants equals the rules (cpa/rules/).

Each test fails when a rule changes in cpa/rules/ without its copy in sql/migrations/ (or the
reverse), and on a database built from either schema.sql or the migrations (same catalog).
"""

from __future__ import annotations

import asyncpg
import pytest

from cpa.rules.accounts import ACCOUNT_FIRST_YEARS, LAST_YEAR, POT_UNITS


@pytest.mark.parametrize(("account", "first_year"), sorted(ACCOUNT_FIRST_YEARS.items()))
async def test_first_years(db: asyncpg.Connection, account: str, first_year: int) -> None:
    assert await db.fetchval("select account_first_year($1)", account) == first_year
    assert await db.fetchval("select account_last_year()") == LAST_YEAR


async def test_the_year_checks_use_them(db: asyncpg.Connection) -> None:
    """The declaration tables refuse the years the rules refuse, and only those."""
    rows = await db.fetch(
        "select conname, pg_get_constraintdef(oid) as definition from pg_constraint"
        " where conname like '%year_range' order by 1"
    )
    accounts = {
        "activity_declarations_year_range": "cpf",
        "c2p_exposure_declarations_year_range": "c2p",
        "cec_engagements_year_range": "cec",
    }
    assert {row["conname"] for row in rows} == set(accounts)
    for row in rows:
        expected = f"account_first_year('{accounts[row['conname']]}'::text)"
        assert expected in row["definition"], row["definition"]
        assert "account_last_year()" in row["definition"]


async def test_pot_units(db: asyncpg.Connection) -> None:
    pots = list(POT_UNITS)
    units = await db.fetchval("select array_agg(pot_unit(p) order by o) from unnest($1::text[])"
                              " with ordinality as t(p, o)", pots)  # fmt: skip
    assert dict(zip(pots, units, strict=True)) == POT_UNITS
    assert await db.fetchval("select pot_unit('no_such_pot')") is None
