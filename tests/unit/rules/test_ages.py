"""Ages in the law, hand-computed: the CPF's stop at the automatic full-rate age of the holder's
cohort (CT L6323-3 al. 3 → L5421-4 1° → CSS L351-8 1°), the year of the stop credited pro rata
of its days, and the youngest age of a career (CT L4153-1 1°, L5151-2)."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.rules.ages import age_reached_on, career_problem, contract_problem, cpf_credit_stop
from cpa.rules.cpf import Activity, PersonYearStatus, cpf_hours_year_accrual, cpf_year_accrual
from cpa.rules.yearly import YearInputs, campaign_date, year_credit

D = dt.date
FULL = Activity("employee", worked_centihours=160700)

# (birth date, the day the CPF stops being credited, source)
STOP_DAYS = [
    (D(1951, 6, 30), D(2016, 6, 30), "born before 1951-07-01: 65 years"),
    (D(1951, 7, 1), D(2016, 11, 1), "born 1951-07-01: 65 years 4 months"),
    (D(1951, 12, 31), D(2017, 5, 1), "65 y 4 m lands on 31 April: 1 May (decision)"),
    (D(1952, 1, 1), D(2017, 10, 1), "born in 1952: 65 years 9 months"),
    (D(1953, 6, 15), D(2019, 8, 15), "born in 1953: 66 years 2 months"),
    (D(1954, 3, 10), D(2020, 10, 10), "born in 1954: 66 years 7 months"),
    (D(1954, 12, 31), D(2021, 7, 31), "last of the 1954 cohort"),
    (D(1955, 1, 1), D(2022, 1, 1), "born from 1955: 67 years (CSS L351-8 1°)"),
    (D(1958, 3, 15), D(2025, 3, 15), "67 years"),
    (D(1960, 2, 29), D(2027, 3, 1), "29 February in a common year: 1 March (decision)"),
    (D(1964, 2, 29), D(2031, 3, 1), "67 years after a leap day, common year again"),
]


@pytest.mark.parametrize(("birth", "stop_on", "source"), STOP_DAYS, ids=[c[2] for c in STOP_DAYS])
def test_stop_day_by_cohort(birth: dt.date, stop_on: dt.date, source: str) -> None:
    stop = cpf_credit_stop(birth, None)
    assert stop is not None and (stop.on, stop.reason) == (stop_on, "full_rate_age")
    assert stop.rule is not None and stop.rule.id == "cpf.stop.full_rate_age_months"
    assert "L5421-4 1°" in stop.rule.reference.article


def test_retirement_or_age_whichever_first() -> None:
    """Full-rate retirement before the age stops first; retiring after it changes nothing."""
    birth = D(1958, 3, 15)
    early = cpf_credit_stop(birth, D(2024, 7, 1))
    late = cpf_credit_stop(birth, D(2026, 1, 1))
    assert early is not None and (early.on, early.reason) == (D(2024, 7, 1), "full_rate_retirement")
    assert late is not None and (late.on, late.reason) == (D(2025, 3, 15), "full_rate_age")
    assert cpf_credit_stop(None, None) is None


# (birth date, year, retirement date, expected cents of a full-time year, source). The year of
# the stop is credited for its days before the stop day (cpf.retirement.year_pro_rata_days),
# rounded up to the cent (CT R6323-1); 500 € = 50 000 cents a full year (CT L6323-11).
EURO_STOP_CASES = [
    (D(1959, 3, 15), 2025, None, 50000, "66 all year: credited in full"),
    (D(1958, 3, 15), 2024, None, 50000, "the year before the stop: in full"),
    (D(1958, 1, 1), 2025, None, 0, "67 on 1 January: nothing that year"),
    (D(1958, 1, 2), 2025, None, 137, "67 on 2 January: 1/365 of 500 € = 1.3699 → 1.37 €"),
    (D(1958, 2, 1), 2025, None, 4247, "birthday month February: 31/365 → 42.4658 → 42.47 €"),
    (D(1958, 2, 28), 2025, None, 7946, "end of February: 58/365 → 79.4521 → 79.46 €"),
    (D(1958, 3, 15), 2025, None, 10000, "15 March: 73/365 = exactly 100 €"),
    (D(1958, 12, 31), 2025, None, 49864, "31 December: 364/365 → 498.6301 → 498.64 €"),
    (D(1957, 12, 31), 2024, None, 49864, "leap year: 365/366 → 498.6338 → 498.64 €"),
    (D(1957, 12, 31), 2025, None, 0, "the year after the stop: nothing"),
    (D(1958, 3, 15), 2025, D(2024, 7, 1), 0, "retired at full rate before: nothing"),
    (D(1958, 3, 15), 2024, D(2024, 7, 1), 24864, "retired 1 July: 182/366 → 248.64 €"),
    (D(1958, 3, 15), 2025, D(2026, 1, 1), 10000, "retired later: the age stops first"),
]


@pytest.mark.parametrize(
    ("birth", "year", "retired_on", "expected", "source"),
    EURO_STOP_CASES,
    ids=[c[-1] for c in EURO_STOP_CASES],
)
def test_euro_year_of_the_stop(
    birth: dt.date, year: int, retired_on: dt.date | None, expected: int, source: str
) -> None:
    status = PersonYearStatus(birth_date=birth, full_rate_retirement_on=retired_on)
    assert cpf_year_accrual(year, [FULL], status, 0).amount_cents == expected


# Hours era: 24 h for a full year (old CT L6323-11), the pro rata rounded up to the hour.
HOURS_STOP_CASES = [
    (D(1950, 6, 1), 2015, 10, "65 on 1 June 2015: 24 h × 151/365 = 9.93 → 10 h"),
    (D(1950, 6, 1), 2016, 0, "the year after: nothing"),
    (D(1951, 7, 1), 2016, 20, "65 y 4 m on 1 Nov 2016: 24 h × 305/366 = 20 h"),
    (D(1952, 1, 1), 2016, 24, "65 y 9 m only in Oct 2017: 2016 in full"),
]


@pytest.mark.parametrize(
    ("birth", "year", "expected", "source"), HOURS_STOP_CASES, ids=[c[-1] for c in HOURS_STOP_CASES]
)
def test_hours_year_of_the_stop(birth: dt.date, year: int, expected: int, source: str) -> None:
    status = PersonYearStatus(birth_date=birth)
    assert cpf_hours_year_accrual(year, [FULL], status, 0).amount_hours == expected


def test_the_campaign_path_stops_by_age_too() -> None:
    """yearly.year_credit (the ledger's and the simulation's path) gives the rule the person's
    birth date, so no caller has to remember it; the trace says why and cites the cohort age."""
    inputs = YearInputs(
        year=2025, birth_date=D(1958, 3, 15), status=PersonYearStatus(), activities=[FULL]
    )
    credit = year_credit(inputs, "cpf", 0)
    assert credit.amount == 10000
    assert "automatic full-rate age reached on 2025-03-15: 73/365" in credit.trace.note
    cited = {p.id for p in credit.trace.parameters}
    assert {"cpf.stop.full_rate_age_months", "cpf.retirement.year_pro_rata_days"} <= cited


def test_cec_is_still_credited_after_the_stop_age() -> None:
    """CT L6323-3 stops the CPF only: the CEC stays open for life (domain.md §3)."""
    from cpa.rules.cec import Engagement

    inputs = YearInputs(
        year=2025,
        birth_date=D(1950, 1, 1),
        status=PersonYearStatus(),
        engagements=[Engagement(kind="military_reserve", days=90)],
    )
    assert year_credit(inputs, "cec", 0).amount == 24000


# (birth date, year, refused?, source): a year is possible once the person is 15 by its end.
CAREER_YEARS = [
    (D(2004, 12, 31), 2019, False, "15 on 31 Dec 2019: 2019 possible (apprentice, L4153-1 1°)"),
    (D(2004, 12, 31), 2018, True, "14 all of 2018"),
    (D(2005, 1, 1), 2019, True, "15 only on 1 Jan 2020: 2019 impossible"),
    (D(2005, 1, 1), 2020, False, "15 on 1 Jan 2020"),
    (D(2019, 6, 1), 2019, True, "born in the year: a baby does not work"),
    (D(2020, 3, 1), 2019, True, "before birth"),
    (D(1980, 5, 1), 2015, False, "an adult"),
]


@pytest.mark.parametrize(
    ("birth", "year", "refused", "source"), CAREER_YEARS, ids=[c[-1] for c in CAREER_YEARS]
)
def test_career_years(birth: dt.date, year: int, refused: bool, source: str) -> None:
    problem = career_problem(birth, year)
    assert (problem is not None) == refused
    if problem is not None:
        assert problem.rule.id == "cpa.career.min_age_years"
        assert ("birth" in problem.message) == (birth.year > year)


# (birth date, contract start, contract end, refused?, source)
CONTRACTS = [
    (D(2004, 6, 15), D(2019, 1, 1), D(2019, 6, 14), True, "ends the day before 15"),
    (D(2004, 6, 15), D(2019, 1, 1), D(2019, 6, 15), False, "ends on the 15th birthday"),
    (D(1990, 6, 15), D(1990, 6, 14), D(2019, 12, 31), True, "starts before birth"),
    (D(1990, 6, 15), D(2005, 6, 15), D(2019, 12, 31), False, "starts at 15"),
]


@pytest.mark.parametrize(
    ("birth", "start", "end", "refused", "source"), CONTRACTS, ids=[c[-1] for c in CONTRACTS]
)
def test_contracts(
    birth: dt.date, start: dt.date, end: dt.date, refused: bool, source: str
) -> None:
    assert (contract_problem(birth, start, end) is not None) == refused


@pytest.mark.parametrize(
    ("birth", "months", "expected"),
    [
        (D(2000, 1, 31), 1, D(2000, 3, 1)),  # 31 February does not exist: the 1st of March
        (D(2000, 1, 31), 13, D(2001, 3, 1)),
        (D(2000, 2, 29), 48, D(2004, 2, 29)),  # leap year again: the day exists
        (D(2000, 3, 31), 12, D(2001, 3, 31)),
    ],
)
def test_age_reached_on(birth: dt.date, months: int, expected: dt.date) -> None:
    assert age_reached_on(birth, months) == expected


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2025, D(2026, 6, 15)), (2026, D(2027, 6, 15)), (2018, D(2019, 6, 15))],
)
def test_campaign_date(year: int, expected: dt.date) -> None:
    """Rights of year N are credited between 1 April and 15 June N+1 (domain.md §2.3)."""
    on, parameters = campaign_date(year)
    assert on == expected
    assert [p.id for p in parameters] == ["cpf.campaign.last_month", "cpf.campaign.last_day"]


def test_ages_at_the_edges_of_the_calendar() -> None:
    """Any birth date a scenario may carry gives an answer, never an error: past year 9999 an
    age is never reached, and a birth before the first cohort row belongs to that cohort."""
    assert age_reached_on(D(9999, 1, 1), 180) == dt.date.max
    assert career_problem(D(9999, 12, 31), 2020) is not None
    old = cpf_credit_stop(D(1800, 1, 1), None)
    assert old is not None and old.on == D(1865, 1, 1)
