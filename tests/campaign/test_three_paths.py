"""One implementation of "a career year → entries", proven: generated careers credited through
the campaign's chunks (``credit_chunk``: set-based reads, COPY, one statement per chunk),
through ``credit_year`` (one person at a time) and through the simulation (on paper) give the
same entries and the same balances; then a corrected declaration posts the same adjustment
through the campaign as through ``credit_year`` (OQ-5).

Each career is declared for two persons: one credited by the campaign, year by year, the
other by ``credit_year``, each year on its campaign day (15 April of the next year). Every
career has an activity in 2025, so that every hours stock is converted by a euro-era crediting
as the simulation converts it (a person never credited again keeps their hours in the ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cpa.campaign.chunks import credit_chunk
from cpa.db.pool import _init_connection
from cpa.declarations import ActivityDeclaration, DeclaredActivity, declare_activities
from cpa.ledger import InsufficientRights, NewHold, create_hold, credit_year
from cpa.simulation import decode_scenario, simulate
from tests.ledger.test_simulation_agrees import (
    AS_OF,
    _declare,
    _ledger_accruals,
    _ledger_converted,
    _simulated_accruals,
    _simulated_converted,
)

HELD_CENTS = 100_000
CAREERS_PER_EXAMPLE = 125
EXAMPLES = 4
"""500 careers: ``make faults`` (tests/faults/test_three_paths_500.py); ``make test`` checks one
batch of 125 (the same careers: the generation is derandomized), for its time."""
YEARS = range(2015, 2026)
ENTRY = (
    "select pot, kind, credit_year, amount, unit, effective_on, rule_id, legal_reference,"
    " parameter_effective_from, trace::text as trace, client_id"
    " from ledger_entries where person_id = $1 order by id"
)
CREDITS = (
    "select year, account, unit, amount, balance_before, inputs_sha256, credited_on"
    " from ledger_credits where person_id = $1 order by year, account"
)


def _activity(year: int) -> st.SearchStrategy[dict[str, Any]]:
    employee = st.fixed_dictionaries(
        {"year": st.just(year), "kind": st.just("employee"),
         "worked_hours": st.sampled_from([0, 120, 500, 803, 803.5, 1000, 1607, 1800])},
        optional={"reference_hours": st.sampled_from([1500, 1607, 1820])},
    )  # fmt: skip
    independent = st.fixed_dictionaries(
        {"year": st.just(year), "kind": st.just("independent"),
         "months_active": st.integers(1, 12)}
    )  # fmt: skip
    esat = st.just({"year": year, "kind": "esat"})
    return st.one_of(employee, employee, independent, esat)


@st.composite
def careers(draw: st.DrawFn) -> dict[str, Any]:
    """A career of 2015–2025 the declarations API and the simulation both accept."""
    born = dt.date(draw(st.integers(1956, 1995)), draw(st.integers(1, 12)), 1)
    years = sorted({*draw(st.lists(st.sampled_from(YEARS), max_size=5)), 2025})
    if draw(st.integers(0, 9)) == 0:
        years = list(YEARS)  # a whole career: the ceilings are reached
    # One activity of a kind per year (the simulation's rule), in any order.
    activity = [
        item for y in years
        for item in draw(st.lists(_activity(y), min_size=1, max_size=2,
                                  unique_by=lambda a: a["kind"]))
    ]  # fmt: skip
    person: dict[str, Any] = {"birth_date": born.isoformat()}
    if draw(st.booleans()):
        person["low_qualified"] = [{"from": f"{draw(st.sampled_from(YEARS))}-01-01", "to": None}]
    if draw(st.integers(0, 4)) == 0:
        person["disability"] = [{"from": f"{draw(st.sampled_from(YEARS))}-03-01", "to": None}]
    if born.year < 1963 and draw(st.booleans()):
        person["full_rate_retirement_on"] = f"{draw(st.integers(2019, 2025))}-07-01"
    engaged = [y for y in draw(st.lists(st.sampled_from(YEARS[2:]), max_size=3, unique=True))]
    engagements = [
        {"year": y, "activity": "associative_volunteering", "role": "board_member",
         "hours": draw(st.sampled_from([80, 210])), "hours_in_one_organisation": 80}
        for y in engaged
    ]  # fmt: skip
    exposed = draw(st.lists(st.sampled_from(YEARS), max_size=2, unique=True))
    exposures = [
        {"year": y, "contract_start": f"{y}-01-01", "contract_end": f"{y}-12-31",
         "factors": {"night_work": draw(st.sampled_from([60, 100, 130]))}}
        for y in exposed
    ]  # fmt: skip
    return {"person": person, "activity": activity, "engagements": engagements,
            "exposures": exposures}  # fmt: skip


@pytest.mark.slow
def test_campaign_credit_year_and_simulation_agree(fresh_dsn: str) -> None:
    """250 careers agree through the three paths; their corrections too."""
    three_paths_agree(fresh_dsn, batches=2)


def three_paths_agree(dsn: str, *, batches: int) -> None:
    """``batches`` of 125 careers agree through the three paths, and so do their corrections."""
    seen: list[tuple[int, int, int]] = []

    @settings(
        max_examples=batches, deadline=None, derandomize=True, database=None,
        phases=[Phase.generate],  # a batch of 125 careers does not shrink in useful time
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.large_base_example],
    )  # fmt: skip
    @given(batch=st.lists(careers(), min_size=CAREERS_PER_EXAMPLE, max_size=CAREERS_PER_EXAMPLE))
    def check(batch: list[Any]) -> None:
        seen.append(asyncio.run(_three_paths(dsn, batch)))

    check()
    assert len(seen) == batches
    assert sum(careers for careers, _, _ in seen) >= CAREERS_PER_EXAMPLE * batches
    assert sum(adjustments for _, adjustments, _ in seen) > 0, "corrections posted adjustments"
    assert sum(holds for _, _, holds in seen) > 0, "2025 met pending holds"


async def _three_paths(dsn: str, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
    """The careers checked, the adjustments their corrections posted, the holds made."""
    db = await asyncpg.connect(dsn)
    await _init_connection(db)
    transaction = db.transaction()
    await transaction.start()
    try:
        scenarios = [decode_scenario(msgspec.json.encode({"as_of": AS_OF, **c})) for c in batch]
        by_campaign = [await _declare(db, s) for s in scenarios]
        for year in YEARS[:-1]:  # every person of the database is in the one chunk
            await credit_chunk(db, year, None, None, today=dt.date(year + 1, 4, 15))
        one_by_one = [await _declare(db, s) for s in scenarios]
        for person_id, scenario in zip(one_by_one, scenarios, strict=True):
            for year in _declared_years(scenario)[:-1]:  # the last one is 2025
                await credit_year(db, person_id, year, today=dt.date(year + 1, 4, 15))
        holds = await _hold(db, by_campaign[::4] + one_by_one[::4])
        for person_id in one_by_one:  # before the campaign's chunk: it then leaves them be
            await credit_year(db, person_id, 2025, today=dt.date(2026, 4, 15))
        await credit_chunk(db, 2025, None, None, today=dt.date(2026, 4, 15))
        for scenario, a, b in zip(scenarios, by_campaign, one_by_one, strict=True):
            await _agree(db, scenario, a, b)
        adjustments = await _corrections_agree(db, scenarios, by_campaign, one_by_one)
        return len(scenarios), adjustments, holds
    finally:
        await transaction.rollback()
        await db.close()


async def _hold(db: asyncpg.Connection, persons: list[UUID]) -> int:
    """A pending hold of €1,000 on those who have it before 2025 is credited: the ceiling of
    2025 reads it (the euros held still count), on both paths; the holds made."""
    held = 0
    for person_id in persons:
        new = NewHold(amount_cents=HELD_CENTS, training_reference="RS-1234",
                      expires_at=dt.datetime(2026, 12, 31, tzinfo=dt.UTC))  # fmt: skip
        with contextlib.suppress(InsufficientRights):  # too little, or retired: both alike
            await create_hold(db, person_id, new, now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
            held += 1
    return held


def _declared_years(scenario: Any) -> list[int]:
    items = (*scenario.activity, *scenario.engagements, *scenario.exposures)
    return sorted({item.year for item in items})


async def _agree(
    db: asyncpg.Connection, scenario: Any, by_campaign: UUID, one_by_one: UUID
) -> None:
    entries = await db.fetch(ENTRY, by_campaign)
    assert [tuple(e) for e in entries] == [tuple(e) for e in await db.fetch(ENTRY, one_by_one)]
    assert await _balances(db, by_campaign) == await _balances(db, one_by_one)
    credits = [tuple(r) for r in await db.fetch(CREDITS, by_campaign)]
    assert credits == [tuple(r) for r in await db.fetch(CREDITS, one_by_one)]
    rights = simulate(scenario)
    assert _ledger_accruals(entries) == _simulated_accruals(rights)
    assert _ledger_converted(entries) == _simulated_converted(rights)
    balances = await _balances(db, by_campaign)
    held = balances.get("cpf_held", 0)
    assert balances.get("cpf_statutory", 0) + held == rights.cpf.balance_cents
    assert balances.get("cec", 0) == rights.cec.balance_cents
    assert balances.get("c2p", 0) == rights.c2p.points
    assert balances.get("cpf_hours", 0) == balances.get("cec_hours", 0) == 0


async def _balances(db: asyncpg.Connection, person_id: UUID) -> dict[str, int]:
    rows = await db.fetch(
        "select pot, balance from ledger_balances where person_id = $1", person_id
    )
    return {row["pot"]: row["balance"] for row in rows}


async def _corrections_agree(
    db: asyncpg.Connection, scenarios: list[Any], by_campaign: list[UUID], one_by_one: list[UUID]
) -> int:
    """2025 corrected for every third career (a full-time year for a part-timer, a
    quarter-time one for the others): the campaign's second pass and ``credit_year`` post the
    same adjustments and debts."""
    corrected: dict[UUID, list[DeclaredActivity]] = {}
    for index, scenario in enumerate(scenarios):
        if index % 3:
            continue
        items = [a for a in scenario.activity if a.year == 2025 and a.kind == "employee"]
        worked = 160_700 if any((a.worked_hours or 0) < 800 for a in items) else 40_000
        for person_id in (by_campaign[index], one_by_one[index]):
            corrected[person_id] = [DeclaredActivity(kind="employee", worked_centihours=worked)]
    lines = [ActivityDeclaration(person_id=p, year=2025, activities=a)
             for p, a in corrected.items()]  # fmt: skip
    assert (await declare_activities(db, lines, today=AS_OF)).rejected == 0
    today = dt.date(2026, 5, 2)
    await credit_chunk(db, 2025, None, None, today=today)
    for person_id in one_by_one[::3]:
        await credit_year(db, person_id, 2025, today=today)
    adjustments = 0
    for a, b in zip(by_campaign[::3], one_by_one[::3], strict=True):
        entries = await db.fetch(ENTRY, a)
        assert [tuple(e) for e in entries] == [tuple(e) for e in await db.fetch(ENTRY, b)]
        assert await _balances(db, a) == await _balances(db, b)
        adjustments += sum(e["kind"] == "adjustment" for e in entries)
    return adjustments
