"""The simulation and the real campaign give the same entries for the same career: both run
the one yearly orchestration (``cpa.rules.yearly``), one on paper, one on the ledger.

Each career is simulated, then declared for a real person and credited year by year on the
campaign day (spring of the next year); the accruals (account, year, amount, rule) must be the
same, the hours stocks convert to the same euros, and the balances end equal. (The ledger may
convert its hours in several steps — before and after crediting 2018 — where the simulation
converts once on 2019-01-01: the converted totals are compared. Entries of the year in progress
are projected by the simulation and credited by no campaign yet: they are left out.)
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from cpa.declarations import (
    ActivityDeclaration,
    DeclaredActivity,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
    decide_engagements,
    declare_activities,
    declare_engagements,
    declare_exposures,
)
from cpa.ledger import credit_year
from cpa.simulation import Rights, decode_scenario, simulate
from tests.ledger.support import new_person

FULL = {"kind": "employee", "worked_hours": 1607}
VOLUNTEER = {"activity": "associative_volunteering", "hours": 210,
             "hours_in_one_organisation": 150, "role": "board_member"}  # fmt: skip


def _night(year: int, nights: int = 130) -> dict[str, Any]:
    return {"year": year, "contract_start": f"{year}-01-01", "contract_end": f"{year}-12-31",
            "factors": {"night_work": nights}}  # fmt: skip


CAREERS: list[tuple[str, dict[str, Any]]] = [
    (
        "full-timer from 2015, hours converted, euros since",
        {"person": {"birth_date": "1980-05-01"},
         "activity": [{"year": y, **FULL} for y in range(2015, 2027)]},
    ),
    (
        "low-qualified part-timer with disability, plural activity, ESAT, ceiling reached",
        {"person": {"birth_date": "1975-02-01",
                    "low_qualified": [{"from": "2016-01-01", "to": None}],
                    "disability": [{"from": "2021-03-01", "to": None}]},
         "activity": [{"year": 2015, "kind": "employee", "worked_hours": 642.8},
                      {"year": 2016, **FULL}, {"year": 2017, **FULL},
                      {"year": 2018, "kind": "employee", "worked_hours": 1000},
                      {"year": 2018, "kind": "independent", "months_active": 6},
                      {"year": 2019, "kind": "esat"},
                      *({"year": y, **FULL} for y in range(2020, 2026))]},
    ),
    (
        "volunteer and night worker across the 2023 C2P reform",
        {"person": {"birth_date": "1958-03-01"},
         "activity": [{"year": 2017, **FULL}, {"year": 2022, **FULL}],
         "engagements": [{"year": y, **VOLUNTEER} for y in (2017, 2018, 2020, 2021, 2022, 2023)],
         "exposures": [_night(2016), _night(2022), _night(2023, 115), _night(2024, 100)]},
    ),
    (
        "67 in March 2025 with no pension claimed (CT L6323-3, L5421-4 1°)",
        {"person": {"birth_date": "1958-03-15"},
         "activity": [{"year": y, **FULL} for y in range(2022, 2027)],
         "engagements": [{"year": y, **VOLUNTEER} for y in range(2024, 2027)]},
    ),
    (
        "full-rate retirement inside 2021",
        {"person": {"birth_date": "1955-06-01", "full_rate_retirement_on": "2021-07-01"},
         "activity": [{"year": y, **FULL} for y in range(2019, 2024)],
         "engagements": [{"year": y, **VOLUNTEER} for y in range(2020, 2024)]},
    ),
]  # fmt: skip
AS_OF = dt.date(2026, 6, 1)


@pytest.mark.parametrize("career", [c for _, c in CAREERS], ids=[name for name, _ in CAREERS])
async def test_simulation_and_crediting_agree(
    db: asyncpg.Connection, career: dict[str, Any]
) -> None:
    scenario = decode_scenario(msgspec.json.encode({"as_of": AS_OF, **career}))
    rights = simulate(scenario)
    person_id, entries = await credited_entries(db, scenario)
    assert any(e.projected for e in rights.cpf.entries + rights.cec.entries) == any(
        item.year == AS_OF.year for item in (*scenario.activity, *scenario.engagements)
    )
    assert _ledger_accruals(entries) == _simulated_accruals(rights)
    assert _ledger_converted(entries) == _simulated_converted(rights)
    balances = dict(await db.fetch(
        "select pot, balance from ledger_balances where person_id = $1", person_id
    ))  # fmt: skip
    assert balances.get("cpf_statutory", 0) == rights.cpf.balance_cents
    assert balances.get("cec", 0) == rights.cec.balance_cents
    assert balances.get("c2p", 0) == rights.c2p.points


_ACCOUNT_OF_POT = {"cpf_hours": "cpf", "cpf_statutory": "cpf", "cec_hours": "cec", "cec": "cec",
                   "c2p": "c2p"}  # fmt: skip


def _ledger_accruals(entries: list[asyncpg.Record]) -> Counter[tuple[str, int, int, str]]:
    return Counter(
        (_ACCOUNT_OF_POT[e["pot"]], e["credit_year"], e["amount"], e["rule_id"])
        for e in entries
        if e["kind"] == "accrual"
    )


def _simulated_accruals(rights: Rights) -> Counter[tuple[str, int, int, str]]:
    accruals: Counter[tuple[str, int, int, str]] = Counter()
    for account, entries in (("cpf", rights.cpf.entries), ("cec", rights.cec.entries),
                             ("c2p", rights.c2p.entries)):  # fmt: skip
        for e in entries:
            amount = e.amount_cents if e.amount_cents is not None else e.hours or e.points
            if e.kind == "accrual" and amount and not e.projected:
                assert e.year is not None
                accruals[(account, e.year, amount, e.rule_id)] += 1
    return accruals


def _ledger_converted(entries: list[asyncpg.Record]) -> dict[str, int]:
    converted: Counter[str] = Counter()
    for e in entries:
        if e["kind"] == "conversion":
            converted[e["pot"]] += e["amount"]
    return dict(converted)


def _simulated_converted(rights: Rights) -> dict[str, int]:
    converted: Counter[str] = Counter()
    for account, entries in (("cpf", rights.cpf.entries), ("cec", rights.cec.entries)):
        for e in entries:
            if e.kind == "conversion":
                assert e.hours is not None and e.amount_cents is not None
                converted[f"{account}_hours"] -= e.hours
                converted["cpf_statutory" if account == "cpf" else "cec"] += e.amount_cents
    return dict(converted)


async def credited_entries(
    db: asyncpg.Connection, scenario: Any
) -> tuple[UUID, list[asyncpg.Record]]:
    """The scenario's career declared for a new person and credited year by year, each in its
    campaign (15 April of the next year): the person and the ledger entries written."""
    person_id = await _declare(db, scenario)
    for year in range(2015, scenario.as_of.year):
        await credit_year(db, person_id, year, today=dt.date(year + 1, 4, 15))
    entries = await db.fetch(
        "select pot, kind, credit_year, amount, rule_id from ledger_entries"
        " where person_id = $1 order by id",
        person_id,
    )
    return person_id, entries


async def _declare(db: asyncpg.Connection, scenario: Any) -> UUID:
    retired_on = scenario.person.full_rate_retirement_on
    person = await new_person(db, scenario.person.birth_date, full_rate_retirement_on=retired_on)
    activities = _activity_lines(person.id, scenario)
    assert (await declare_activities(db, activities, today=AS_OF)).rejected == 0
    exposures = [
        ExposureDeclaration(person_id=person.id, year=x.year, contract_ref=f"contract-{i}",
                            contract_start=x.contract_start, contract_end=x.contract_end,
                            factors=dict(x.factors))
        for i, x in enumerate(scenario.exposures)
    ]  # fmt: skip
    assert (await declare_exposures(db, exposures, today=AS_OF)).rejected == 0
    engagements = [
        EngagementDeclaration(person_id=person.id, year=e.year, organisation="asso",
                              kind=e.activity, hours=e.hours or 0,
                              hours_in_one_organisation=e.hours_in_one_organisation or 0,
                              role=e.role)
        for e in scenario.engagements
    ]  # fmt: skip
    declared = await declare_engagements(db, engagements, today=AS_OF)
    decisions = [EngagementDecision(engagement_id=line.id, decision="validated")
                 for line in declared.lines if line.id is not None]  # fmt: skip
    await decide_engagements(db, decisions, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    return person.id


def _activity_lines(person_id: UUID, scenario: Any) -> list[ActivityDeclaration]:
    by_year: dict[int, list[DeclaredActivity]] = {}
    for item in scenario.activity:
        by_year.setdefault(item.year, []).append(DeclaredActivity(
            kind=item.kind, worked_centihours=round((item.worked_hours or 0) * 100),
            reference_centihours=round((item.reference_hours or 0) * 100),
            months_active=item.months_active or 0,
        ))  # fmt: skip
    return [
        ActivityDeclaration(person_id=person_id, year=year, activities=activities,
                            low_qualified=_covers(scenario.person.low_qualified, year),
                            disability=_covers(scenario.person.disability, year))
        for year, activities in sorted(by_year.items())
    ]  # fmt: skip


def _covers(periods: Any, year: int) -> bool:
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return any(p.from_ <= last and (p.to is None or p.to >= first) for p in periods)
