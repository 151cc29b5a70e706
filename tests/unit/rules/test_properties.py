"""Property tests: ceilings hold, credits are never negative and grow with worked time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cpa.rules.cpf import Activity, PersonYearStatus, cpf_hours_year_accrual, cpf_year_accrual

employees = st.builds(
    Activity,
    kind=st.just("employee"),
    worked_centihours=st.integers(0, 878400),
    reference_centihours=st.sampled_from([0, 150000, 160700, 182000]),
)
independents = st.builds(Activity, kind=st.just("independent"), months_active=st.integers(0, 12))
activities = st.lists(st.one_of(employees, independents, st.just(Activity("esat"))), max_size=3)
statuses = st.builds(PersonYearStatus, low_qualified=st.booleans(), disability=st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.integers(2019, 2035), activities, statuses, st.integers(0, 900000))
def test_euro_credit_within_ceiling_and_non_negative(
    year: int, acts: list[Activity], status: PersonYearStatus, balance: int
) -> None:
    result = cpf_year_accrual(year, acts, status, balance)
    assert 0 <= result.amount_cents <= result.gross_cents
    assert balance + result.amount_cents <= max(balance, result.ceiling_cents)
    assert result.capped == (result.amount_cents < result.gross_cents)


@settings(max_examples=300, deadline=None)
@given(st.integers(2015, 2018), activities, statuses, st.integers(0, 450))
def test_hours_credit_within_ceiling_and_non_negative(
    year: int, acts: list[Activity], status: PersonYearStatus, balance: int
) -> None:
    result = cpf_hours_year_accrual(year, acts, status, balance)
    assert 0 <= result.amount_hours <= result.gross_hours
    assert balance + result.amount_hours <= max(balance, result.ceiling_hours)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(2015, 2030),
    st.integers(0, 200000),
    st.integers(0, 200000),
    statuses,
    st.integers(0, 450),
)
def test_monotonic_in_worked_hours(
    year: int, a: int, b: int, status: PersonYearStatus, balance: int
) -> None:
    low, high = sorted((a, b))
    if year < 2019:
        lo = cpf_hours_year_accrual(year, [Activity("employee", low)], status, balance)
        hi = cpf_hours_year_accrual(year, [Activity("employee", high)], status, balance)
        assert lo.amount_hours <= hi.amount_hours
    else:
        cents = balance * 1500
        lo_e = cpf_year_accrual(year, [Activity("employee", low)], status, cents)
        hi_e = cpf_year_accrual(year, [Activity("employee", high)], status, cents)
        assert lo_e.amount_cents <= hi_e.amount_cents
