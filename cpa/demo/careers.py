"""Demo careers: declarations from 2015 on, credited through the real path, year by year.

Each year is credited as its campaign would have done it (``today`` = 15 April of the next
year), so the hours era, the 2019 conversion, the ceilings and the CEC/C2P accounts all come
out of ``cpa.rules`` exactly as in production.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from uuid import UUID

import structlog

from cpa.db.database import Connection
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
from cpa.ledger.crediting import credit_year
from cpa.ledger.models import NewGrant
from cpa.ledger.uses import add_grant
from cpa.linked_services import link_service, load_catalogue
from cpa.persons import Person
from cpa.rules.accounts import FIRST_CPF_YEAR

log = structlog.get_logger(__name__)

FULL_TIME_CENTIHOURS = 160_700


def _campaign_day(year: int) -> dt.date:
    return dt.date(year + 1, 4, 15)


def _employee(
    person_id: UUID, year: int, share_percent: int, *, low_qualified: bool = False
) -> ActivityDeclaration:
    worked = FULL_TIME_CENTIHOURS * share_percent // 100
    activity = DeclaredActivity(kind="employee", worked_centihours=worked)
    return ActivityDeclaration(
        person_id=person_id, year=year, activities=[activity], low_qualified=low_qualified
    )


def _independent(person_id: UUID, year: int, months: int) -> ActivityDeclaration:
    activity = DeclaredActivity(kind="independent", months_active=months)
    return ActivityDeclaration(person_id=person_id, year=year, activities=[activity])


def _activities(persons: Sequence[Person], years: range) -> list[ActivityDeclaration]:
    """A full-timer, a low-qualified part-timer, a night worker, a young independent."""
    lines = []
    for index, person in enumerate(persons):
        for year in years:
            if index % 4 == 0:
                lines.append(_employee(person.id, year, 100))
            elif index % 4 == 1:
                lines.append(_employee(person.id, year, 40 if year % 3 else 70, low_qualified=True))
            elif index % 4 == 2:
                lines.append(_employee(person.id, year, 100))
            elif year >= 2018:
                lines.append(_independent(person.id, year, 12 if year > 2018 else 7))
    return lines


def _exposures(persons: Sequence[Person], years: range) -> list[ExposureDeclaration]:
    return [
        ExposureDeclaration(
            person_id=person.id,
            year=year,
            contract_ref=f"NIGHT-{index}",
            contract_start=dt.date(2014, 9, 1),
            contract_end=dt.date(year, 12, 31),
            factors={"night_work": 140, "noise_daily": 650}
            if year >= 2016
            else {"night_work": 140},
        )
        for index, person in enumerate(persons)
        if index % 4 == 2
        for year in years
    ]


def _engagements(persons: Sequence[Person], years: range) -> list[EngagementDeclaration]:
    return [
        EngagementDeclaration(
            person_id=person.id,
            year=year,
            organisation="Restos du Cœur — antenne de Lyon",
            kind="associative_volunteering",
            hours=220,
            hours_in_one_organisation=220,
            role="board_member",
        )
        for index, person in enumerate(persons)
        if index % 4 == 0
        for year in years
        if 2020 <= year <= 2023
    ]


async def load_demo_careers(db: Connection, persons: Sequence[Person]) -> None:
    """Declare and credit a believable career for each demo person (2015 to last year)."""
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)
    years = range(FIRST_CPF_YEAR, today.year)
    await declare_activities(db, _activities(persons, years), today=today)
    await declare_exposures(db, _exposures(persons, years), today=today)
    declared = await declare_engagements(db, _engagements(persons, years), today=today)
    decisions = [
        EngagementDecision(engagement_id=line.id, decision="validated")
        for line in declared.lines
        if line.id is not None
    ]
    await decide_engagements(db, decisions, now=now)
    for year in years:
        for person in persons:
            await credit_year(db, person.id, year, today=min(_campaign_day(year), today))
    await _extras(db, persons, today, now)
    log.info("demo_careers_loaded", persons=len(persons), years=len(years))


async def _extras(
    db: Connection, persons: Sequence[Person], today: dt.date, now: dt.datetime
) -> None:
    """An employer dotation, an earmarked abondement and a few linked services."""
    await load_catalogue(db)
    for index, person in enumerate(persons):
        if index % 4 == 0:
            dotation = NewGrant(pot="dotation", amount_cents=150_000, financer="ACME SAS")
            await add_grant(db, person.id, dotation, today=today)
            await link_service(db, person.id, "cep-apec", now=now)
        if index % 4 == 1:
            earmarked = NewGrant(
                pot="abondement", amount_cents=80_000, financer="OPCO Atlas", earmarked=True,
                use_by=today + dt.timedelta(days=365),
            )  # fmt: skip
            await add_grant(db, person.id, earmarked, today=today)
            await link_service(db, person.id, "bilan-cibc", now=now)
        await link_service(db, person.id, "coffre-paie", now=now)
