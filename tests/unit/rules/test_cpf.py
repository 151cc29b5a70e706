"""CPF accrual tables: (input, expected, legal source), boundaries at each threshold and date."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.rules.cpf import (
    Activity,
    PersonYearStatus,
    convert_hours_to_cents,
    cpf_hours_year_accrual,
    cpf_year_accrual,
)

FULL = 160700  # 1 607 h in hundredths
BASE = PersonYearStatus()
LQ = PersonYearStatus(low_qualified=True)
BOE = PersonYearStatus(disability=True)
LQ_BOE = PersonYearStatus(low_qualified=True, disability=True)


def employee(worked: int, reference: int = 0) -> Activity:
    return Activity("employee", worked_centihours=worked, reference_centihours=reference)


def independent(months: int) -> Activity:
    return Activity("independent", months_active=months)


ESAT = Activity("esat")

# (year, activities, status, balance, amount, gross, ceiling, capped, source)
EURO_CASES = [
    (2019, [employee(FULL)], BASE, 0, 50000, 50000, 500000, False, "CT L6323-11: 500 €/yr"),
    (
        2019,
        [employee(FULL // 2)],
        BASE,
        0,
        50000,
        50000,
        500000,
        False,
        "R6323-1: exactly half time",
    ),
    (
        2019,
        [employee(80349)],
        BASE,
        0,
        25000,
        25000,
        500000,
        False,
        "R6323-1: just below half, pro rata, ceil cent",
    ),
    (2019, [employee(64280)], BASE, 0, 20000, 20000, 500000, False, "R6323-1: 40 % → 200 €"),
    (
        2019,
        [employee(10000)],
        BASE,
        0,
        3112,
        3112,
        500000,
        False,
        "R6323-1: 100 h → 31.1139 € rounded up",
    ),
    (2019, [employee(0)], BASE, 0, 0, 0, 500000, False, "no work, no credit"),
    (
        2019,
        [employee(200000)],
        BASE,
        0,
        50000,
        50000,
        500000,
        False,
        "over the reference: full amount",
    ),
    (
        2020,
        [employee(75000, 150000)],
        BASE,
        0,
        50000,
        50000,
        500000,
        False,
        "R6323-1: conventional 1 500 h, half",
    ),
    (
        2020,
        [employee(74999, 150000)],
        BASE,
        0,
        25000,
        25000,
        500000,
        False,
        "conventional reference, just below",
    ),
    (2020, [employee(FULL)], LQ, 0, 80000, 80000, 800000, False, "L6323-11-1: 800 €/yr"),
    (2020, [employee(64280)], LQ, 0, 32000, 32000, 800000, False, "OQ-3: pro rata of 800 €"),
    (2020, [employee(FULL)], BOE, 0, 80000, 80000, 800000, False, "décret 2019-566: +300 €"),
    (2020, [employee(64280)], BOE, 0, 32000, 32000, 800000, False, "OQ-2: +300 € pro rata too"),
    (2020, [employee(FULL)], LQ_BOE, 0, 110000, 110000, 800000, False, "800 + 300 €"),
    (2020, [employee(0)], BOE, 0, 0, 0, 500000, False, "BOE only with activity rights"),
    (2020, [ESAT], BASE, 0, 80000, 80000, 800000, False, "L6323-33: ESAT 800 €, no pro rata"),
    (2021, [independent(12)], BASE, 0, 50000, 50000, 500000, False, "R6323-22: full year"),
    (2021, [independent(6)], BASE, 0, 25000, 25000, 500000, False, "R6323-22: 6 months"),
    (
        2021,
        [independent(7)],
        BASE,
        0,
        29167,
        29167,
        500000,
        False,
        "R6323-22: 7/12 rounded up to cent",
    ),
    (2021, [independent(0)], BASE, 0, 0, 0, 500000, False, "no month, no credit"),
    (
        2021,
        [employee(64280), independent(12)],
        BASE,
        0,
        50000,
        50000,
        500000,
        False,
        "plural: best amount",
    ),
    (
        2021,
        [employee(FULL), ESAT],
        BASE,
        0,
        80000,
        80000,
        800000,
        False,
        "plural: best amount and ceiling",
    ),
    (
        2021,
        [employee(FULL), ESAT],
        BASE,
        790000,
        10000,
        80000,
        800000,
        True,
        "plural: ESAT ceiling applies",
    ),
    (2022, [employee(FULL)], BASE, 480000, 20000, 50000, 500000, True, "ceiling reached mid-year"),
    (2022, [employee(FULL)], BASE, 500000, 0, 50000, 500000, True, "at the ceiling"),
    (
        2022,
        [employee(FULL)],
        BASE,
        600000,
        0,
        50000,
        500000,
        True,
        "above the ceiling (converted hours)",
    ),
    (2022, [employee(FULL)], LQ, 790000, 10000, 80000, 800000, True, "low-qualified ceiling"),
    (2022, [], BASE, 0, 0, 0, 500000, False, "no activity"),
]


@pytest.mark.parametrize(
    ("year", "activities", "status", "balance", "amount", "gross", "ceiling", "capped", "source"),
    EURO_CASES,
    ids=[c[-1] for c in EURO_CASES],
)
def test_euro_accrual(
    year: int,
    activities: list[Activity],
    status: PersonYearStatus,
    balance: int,
    amount: int,
    gross: int,
    ceiling: int,
    capped: bool,
    source: str,
) -> None:
    result = cpf_year_accrual(year, activities, status, balance)
    assert (result.amount_cents, result.gross_cents, result.ceiling_cents, result.capped) == (
        amount,
        gross,
        ceiling,
        capped,
    )


@pytest.mark.parametrize(
    ("retired_on", "expected", "source"),
    [
        (None, 50000, "not retired"),
        (dt.date(2023, 1, 1), 50000, "retired after the year"),
        (dt.date(2022, 7, 1), 24795, "decision: 181/365 of 500 € rounded up"),
        (dt.date(2022, 1, 2), 137, "decision: 1/365"),
        (dt.date(2022, 1, 1), 0, "L6323-2: retired on the first day"),
        (dt.date(2020, 5, 1), 0, "L6323-2: retired before the year"),
    ],
)
def test_full_rate_retirement(retired_on: dt.date | None, expected: int, source: str) -> None:
    status = PersonYearStatus(full_rate_retirement_on=retired_on)
    assert cpf_year_accrual(2022, [employee(FULL)], status, 0).amount_cents == expected


def test_trace_cites_rule_parameter_and_facts() -> None:
    result = cpf_year_accrual(2020, [employee(64280)], LQ, 1000)
    trace = result.trace
    assert trace.rule_id == "cpf.eur.low_qualified.rate"
    assert trace.main.value == 80000
    assert trace.parameter_effective_from == dt.date(2019, 1, 1)
    assert "L6323-11-1" in trace.legal_reference
    assert trace.facts["employee.worked_centihours"] == 64280
    assert trace.facts["statutory_balance_before"] == 1000
    assert any(p.reference.decision == "domain.md §6b OQ-3" for p in trace.parameters)


def test_euro_function_refuses_hours_years() -> None:
    with pytest.raises(LookupError):
        cpf_year_accrual(2018, [employee(FULL)], BASE, 0)


# (year, activities, status, balance_hours, amount, gross, capped, source)
HOURS_CASES = [
    (2015, [employee(FULL)], BASE, 0, 24, 24, False, "L6323-11 (old): 24 h"),
    (2016, [employee(FULL // 2)], BASE, 0, 12, 12, False, "R6323-1 (old): pro rata"),
    (2016, [employee(53566)], BASE, 0, 8, 8, False, "R6323-1 III (old): 7.9999 h → 8 h"),
    (2016, [employee(53567)], BASE, 0, 9, 9, False, "R6323-1 III (old): 8.00005 h → 9 h"),
    (2016, [employee(1)], BASE, 0, 1, 1, False, "one hundredth of an hour → 1 h"),
    (2016, [employee(FULL)], BASE, 96, 24, 24, False, "reaching 120 h exactly"),
    (2016, [employee(FULL)], BASE, 108, 18, 18, False, "decision: tier crossed mid-year"),
    (2016, [employee(FULL)], BASE, 120, 12, 12, False, "12 h from 120 h"),
    (2016, [employee(FULL)], BASE, 144, 6, 12, True, "ceiling 150 h mid-year"),
    (2016, [employee(FULL)], BASE, 150, 0, 12, True, "at the ceiling"),
    (2016, [employee(FULL)], LQ, 0, 24, 24, False, "low-qualified rate not yet in force"),
    (2017, [employee(FULL)], LQ, 0, 48, 48, False, "D6323-3-1: 48 h from 2017"),
    (2017, [employee(FULL // 2)], LQ, 0, 24, 24, False, "low-qualified pro rata"),
    (2018, [employee(FULL)], LQ, 380, 20, 48, True, "low-qualified ceiling 400 h"),
    (2018, [employee(FULL)], LQ, 150, 48, 48, False, "low-qualified above 150 h"),
    (2017, [independent(12)], BASE, 0, 0, 0, False, "no CPF for independents before 2018"),
    (2018, [independent(6)], BASE, 0, 12, 12, False, "decision: independents 2018 by months"),
    (2016, [ESAT], BASE, 0, 0, 0, False, "no ESAT rule before 2017"),
    (2017, [ESAT], BASE, 0, 24, 24, False, "decision: ESAT full time from 2017"),
    (2018, [employee(FULL // 4), independent(12)], BASE, 0, 24, 24, False, "plural: best"),
]


@pytest.mark.parametrize(
    ("year", "activities", "status", "balance", "amount", "gross", "capped", "source"),
    HOURS_CASES,
    ids=[c[-1] for c in HOURS_CASES],
)
def test_hours_accrual(
    year: int,
    activities: list[Activity],
    status: PersonYearStatus,
    balance: int,
    amount: int,
    gross: int,
    capped: bool,
    source: str,
) -> None:
    result = cpf_hours_year_accrual(year, activities, status, balance)
    assert (result.amount_hours, result.gross_hours, result.capped) == (amount, gross, capped)


def test_hours_function_refuses_euro_years() -> None:
    with pytest.raises(LookupError):
        cpf_hours_year_accrual(2019, [employee(FULL)], BASE, 0)


@pytest.mark.parametrize(
    ("hours", "cents", "source"),
    [
        (0, 0, "nothing to convert"),
        (150, 225000, "décret 2018-1153: 150 h × 15 €"),
        (400, 600000, "low-qualified stock"),
        (270, 405000, "150 h CPF + 120 h DIF"),
    ],
)
def test_conversion(hours: int, cents: int, source: str) -> None:
    conversion = convert_hours_to_cents(hours)
    assert conversion.amount_cents == cents
    assert conversion.trace.rule_id == "cpf.conversion_rate_hours_to_eur"
    assert conversion.trace.parameter_effective_from == dt.date(2019, 1, 1)


def test_conversion_does_not_exist_before_2019() -> None:
    with pytest.raises(LookupError):
        convert_hours_to_cents(10, dt.date(2018, 12, 31))
