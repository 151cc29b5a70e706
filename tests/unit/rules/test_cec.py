"""CEC tables: the twelve activities at and below their thresholds, euro and hours eras."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.rules.cec import (
    Engagement,
    cec_activities,
    cec_convert_hours_to_cents,
    cec_hours_year_accrual,
    cec_qualifies,
    cec_year_accrual,
)
from cpa.rules.params import names_value, value_at

VOLUNTEER = Engagement(
    "associative_volunteering", hours=200, hours_in_one_organisation=100, role="board_member"
)

# (engagement, qualifies, source: CT D5151-14)
QUALIFY_CASES = [
    (Engagement("civic_service", months=6), True, "6 months of service civique"),
    (Engagement("civic_service", months=5), False, "5 months"),
    (Engagement("military_reserve", days=90), True, "90 days"),
    (Engagement("military_reserve", days=89), False, "89 days"),
    (Engagement("defence_citizen_reserve", years=5), True, "5 years"),
    (Engagement("defence_citizen_reserve", years=4), False, "4 years"),
    (Engagement("municipal_civil_safety_reserve", years=5), True, "5 years"),
    (Engagement("health_reserve", days=30), True, "30 days (OQ-8)"),
    (Engagement("health_reserve", days=29), False, "29 days"),
    (Engagement("apprentice_master", months=6), True, "6 months"),
    (Engagement("apprentice_master", months=5), False, "5 months"),
    (VOLUNTEER, True, "200 h, 100 h in one association, board member"),
    (
        Engagement(
            "associative_volunteering",
            hours=199,
            hours_in_one_organisation=100,
            role="board_member",
        ),
        False,
        "199 h",
    ),
    (
        Engagement(
            "associative_volunteering",
            hours=250,
            hours_in_one_organisation=99,
            role="volunteer_supervisor",
        ),
        False,
        "99 h in one association",
    ),
    (
        Engagement("associative_volunteering", hours=250, hours_in_one_organisation=150),
        False,
        "no qualifying role",
    ),
    (Engagement("education_citizen_reserve", years=1, interventions=25), True, "1 year, 25"),
    (Engagement("education_citizen_reserve", years=1, interventions=24), False, "24 interventions"),
    (Engagement("volunteer_firefighter", years=5), True, "signed 5-year commitment"),
    (Engagement("police_reserve", years=3, days=75), True, "3 years, 75 vacations"),
    (Engagement("police_reserve", years=3, days=74), False, "74 vacations"),
    (Engagement("police_citizen_reserve", years=3, hours=350), True, "3 years, 350 h"),
    (Engagement("police_citizen_reserve", years=2, hours=350), False, "2 years"),
    (Engagement("civic_reserve", hours=200, hours_in_one_organisation=100), True, "200 h"),
    (Engagement("civic_reserve", hours=200, hours_in_one_organisation=99), False, "99 h in one"),
]


@pytest.mark.parametrize(
    ("engagement", "qualifies", "source"), QUALIFY_CASES, ids=[c[-1] for c in QUALIFY_CASES]
)
def test_thresholds(engagement: Engagement, qualifies: bool, source: str) -> None:
    assert cec_qualifies(engagement, 2020)[0] is qualifies


MILITARY = Engagement("military_reserve", days=90)
HEALTH = Engagement("health_reserve", days=30)
FIREFIGHTER = Engagement("volunteer_firefighter", years=5)


@pytest.mark.parametrize(
    ("engagements", "balance", "amount", "gross", "capped", "source"),
    [
        ([VOLUNTEER], 0, 24000, 24000, False, "D5151-14: 240 € per activity"),
        ([VOLUNTEER, VOLUNTEER], 0, 24000, 24000, False, "once per activity kind and year"),
        ([VOLUNTEER, MILITARY, HEALTH], 0, 72000, 72000, False, "three activities = ceiling"),
        ([VOLUNTEER, MILITARY, HEALTH, FIREFIGHTER], 0, 72000, 96000, True, "720 € ceiling"),
        ([VOLUNTEER], 60000, 12000, 24000, True, "ceiling reached mid-year"),
        ([VOLUNTEER], 72000, 0, 24000, True, "at the ceiling"),
        ([Engagement("military_reserve", days=10)], 0, 0, 0, False, "below threshold"),
    ],
)
def test_euro_accrual(
    engagements: list[Engagement], balance: int, amount: int, gross: int, capped: bool, source: str
) -> None:
    result = cec_year_accrual(2021, engagements, balance)
    assert (result.amount_cents, result.gross_cents, result.capped) == (amount, gross, capped)
    assert result.trace.rule_id == "cec.eur.per_activity"


@pytest.mark.parametrize(
    ("year", "engagements", "balance", "amount", "capped", "source"),
    [
        (2017, [VOLUNTEER], 0, 20, False, "L5151-10 (old): 20 h"),
        (2018, [VOLUNTEER, MILITARY], 0, 40, False, "20 h per activity"),
        (2018, [VOLUNTEER, MILITARY, HEALTH, FIREFIGHTER], 0, 60, True, "60 h ceiling"),
        (2018, [VOLUNTEER], 50, 10, True, "ceiling mid-year"),
    ],
)
def test_hours_accrual(
    year: int, engagements: list[Engagement], balance: int, amount: int, capped: bool, source: str
) -> None:
    result = cec_hours_year_accrual(year, engagements, balance)
    assert (result.amount_hours, result.capped) == (amount, capped)


def test_no_cec_before_2017() -> None:
    with pytest.raises(LookupError):
        cec_hours_year_accrual(2016, [VOLUNTEER], 0)


def test_conversion_at_12_euros() -> None:
    """décret 2018-1349: 12 € per CEC hour, not the CPF's 15 €."""
    assert cec_convert_hours_to_cents(60).amount_cents == 72000
    assert cec_convert_hours_to_cents(20, dt.date(2019, 1, 1)).amount_cents == 24000


CIVIC = Engagement("civic_reserve", hours=200, hours_in_one_organisation=100)
POLICE_CITIZEN = Engagement("police_citizen_reserve", years=3, hours=350)
EDUCATION = Engagement("education_citizen_reserve", years=1, interventions=25)
POLICE = Engagement("police_reserve", years=3, days=75)

# Réserve civique, réserve citoyenne de la police nationale and réserve citoyenne de l'Éducation
# nationale count for activities from 2018-01-01 (décret 2017-1058); the other activities from
# 2017-01-01 (sapeurs-pompiers volontaires: décret 2017-828; réserve opérationnelle de la police
# nationale: décret 2017-1058). Each engagement meets its thresholds.
# (year, engagement, hours credited, source)
RESERVE_CASES = [
    (2017, CIVIC, 0, "réserve civique: not for activities of 2017"),
    (2018, CIVIC, 20, "réserve civique: from 2018-01-01"),
    (2017, POLICE_CITIZEN, 0, "réserve citoyenne police: not for 2017"),
    (2018, POLICE_CITIZEN, 20, "réserve citoyenne police: from 2018-01-01"),
    (2017, EDUCATION, 0, "réserve citoyenne Éducation nationale: not for 2017"),
    (2018, EDUCATION, 20, "réserve citoyenne Éducation nationale: from 2018-01-01"),
    (2017, POLICE, 20, "réserve opérationnelle police (décret 2017-1058): from 2017"),
    (2017, FIREFIGHTER, 20, "sapeur-pompier volontaire (décret 2017-828): from 2017"),
    (2017, VOLUNTEER, 20, "bénévolat associatif: from 2017"),
]


@pytest.mark.parametrize(
    ("year", "engagement", "hours", "source"), RESERVE_CASES, ids=[c[-1] for c in RESERVE_CASES]
)
def test_activities_counted_by_year(
    year: int, engagement: Engagement, hours: int, source: str
) -> None:
    result = cec_hours_year_accrual(year, [engagement], 0)
    assert result.amount_hours == hours
    assert cec_qualifies(engagement, year)[0] is (hours > 0)
    counted = [p for p in result.trace.parameters if p.id == "cec.activities.counted"]
    assert counted and counted[0].effective_from.year == min(year, 2018)
    assert (engagement.kind in result.trace.note) is (hours == 0)


def test_reserves_in_the_euro_era() -> None:
    """The three reserves count every year from 2018: 3 × 240 € in 2019."""
    result = cec_year_accrual(2019, [CIVIC, POLICE_CITIZEN, EDUCATION], 0)
    assert (result.amount_cents, result.trace.note) == (72000, "")


@pytest.mark.parametrize(
    ("day", "reserves_counted"),
    [(dt.date(2017, 12, 31), False), (dt.date(2018, 1, 1), True)],
)
def test_counted_list_changes_on_2018_01_01(day: dt.date, reserves_counted: bool) -> None:
    counted = names_value(value_at("cec.activities.counted", day))
    reserves = {"civic_reserve", "police_citizen_reserve", "education_citizen_reserve"}
    assert (reserves <= set(counted)) is reserves_counted
    assert len(counted) == (12 if reserves_counted else 9)
    assert "2017-1058" in value_at("cec.activities.counted", day).reference.text


@pytest.mark.parametrize(
    ("kind", "decree"),
    [
        ("volunteer_firefighter", "décret 2017-828"),
        ("police_reserve", "décret 2017-1058"),
        ("police_citizen_reserve", "décret 2017-1058"),
        ("education_citizen_reserve", "décret 2017-1058"),
        ("civic_reserve", "décret 2017-1058"),
    ],
)
def test_activity_citations(kind: str, decree: str) -> None:
    assert decree in cec_activities()[kind].reference.text
