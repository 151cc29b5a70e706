"""French working days (jours ouvrés): Monday to Friday except public holidays (CT L3133-1).

The expected dates are written out by hand from the calendar (Easter Sunday: 2024-03-31,
2025-04-20, 2026-04-05, 2027-03-28), not taken from the library the code uses.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpa.rules.workdays import (
    WORKING_DAYS_MAX,
    add_working_days,
    is_working_day,
    working_days_between,
)

D = dt.date

# CT L3133-1: the eleven public holidays of metropolitan France. Eight have a fixed date…
FIXED = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
# …three follow Easter: Easter Monday, Ascension (Thursday, +39 days), Whit Monday (+50 days).
EASTER_BASED = {
    2024: ((4, 1), (5, 9), (5, 20)),
    2025: ((4, 21), (5, 29), (6, 9)),
    2026: ((4, 6), (5, 14), (5, 25)),
    2027: ((3, 29), (5, 6), (5, 17)),
}
HOLIDAYS = {
    year: sorted(D(year, month, day) for month, day in FIXED + moving)
    for year, moving in EASTER_BASED.items()
}
ALL_HOLIDAYS = [day for days in HOLIDAYS.values() for day in days]


@pytest.mark.parametrize("day", ALL_HOLIDAYS, ids=str)
def test_public_holidays_are_not_working_days(day: dt.date) -> None:
    assert not is_working_day(day)


@pytest.mark.parametrize("year", sorted(HOLIDAYS))
def test_every_other_weekday_of_the_year_is_a_working_day(year: int) -> None:
    """Exactly the listed holidays close a weekday: no holiday is missing, none is extra."""
    day, closed = D(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and not is_working_day(day):
            closed.append(day)
        day += dt.timedelta(days=1)
    assert closed == [d for d in HOLIDAYS[year] if d.weekday() < 5]


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (D(2026, 5, 2), False, "Saturday"),
        (D(2026, 5, 3), False, "Sunday"),
        (D(2026, 5, 4), True, "ordinary Monday"),
        (D(2026, 4, 3), True, "Good Friday is worked in metropolitan France"),
        (D(2025, 12, 26), True, "26 December is worked in metropolitan France"),
        (D(2026, 5, 15), True, "the bridge Friday after Ascension is a working day"),
    ],
)
def test_working_day_or_not(day: dt.date, working: bool, why: str) -> None:
    assert is_working_day(day) is working, why


@pytest.mark.parametrize(
    ("day", "working"),
    [(D(2026, 4, 3), False), (D(2025, 12, 26), False), (D(2026, 5, 4), True)],
)
def test_alsace_moselle_closes_good_friday_and_st_stephen(day: dt.date, working: bool) -> None:
    """Code local (Moselle): Good Friday and 26 December are holidays there, not elsewhere."""
    assert is_working_day(day, subdivision="57") is working


@pytest.mark.parametrize(
    ("start", "days", "expected", "why"),
    [
        (D(2026, 5, 4), 2, D(2026, 5, 6), "Monday + 2: Wednesday"),
        (D(2026, 5, 7), 1, D(2026, 5, 11), "8 May (Friday) then the weekend"),
        (D(2026, 5, 7), 2, D(2026, 5, 12), "body answer over the 8 May weekend"),
        (D(2026, 5, 12), 2, D(2026, 5, 15), "Ascension Thursday skipped"),
        (D(2026, 5, 13), 4, D(2026, 5, 20), "acceptance over Ascension and a weekend"),
        (D(2026, 5, 22), 1, D(2026, 5, 26), "Whit weekend: Friday + 1 is Tuesday"),
        (D(2026, 4, 30), 11, D(2026, 5, 20), "11 days across 1, 8 and 14 May"),
        (D(2026, 5, 21), 5, D(2026, 5, 29), "service done validation over Whit Monday"),
        (D(2026, 4, 2), 2, D(2026, 4, 7), "Easter weekend: Good Friday worked, Monday not"),
        (D(2024, 3, 29), 1, D(2024, 4, 2), "Easter Monday 2024"),
        (D(2025, 4, 18), 1, D(2025, 4, 22), "Easter Monday 2025"),
        (D(2027, 3, 26), 1, D(2027, 3, 30), "Easter Monday 2027"),
        (D(2027, 4, 30), 1, D(2027, 5, 3), "1 May 2027 is a Saturday: nothing moves"),
        (D(2026, 7, 13), 1, D(2026, 7, 15), "14 July"),
        (D(2025, 8, 14), 1, D(2025, 8, 18), "15 August (Friday) and the weekend"),
        (D(2024, 10, 31), 1, D(2024, 11, 4), "1 November 2024 (Friday)"),
        (D(2025, 11, 10), 1, D(2025, 11, 12), "11 November"),
        (D(2025, 12, 24), 1, D(2025, 12, 26), "25 December"),
        (D(2025, 12, 31), 1, D(2026, 1, 2), "1 January"),
        (D(2026, 5, 9), 0, D(2026, 5, 9), "zero days: the start itself"),
        (D(2026, 5, 9), 1, D(2026, 5, 11), "a start on a weekend counts from Monday"),
    ],
)
def test_add_working_days(start: dt.date, days: int, expected: dt.date, why: str) -> None:
    assert add_working_days(start, days) == expected, why
    assert working_days_between(start, expected) == days, why


@pytest.mark.parametrize(
    ("start", "end", "expected", "why"),
    [
        (D(2026, 4, 30), D(2026, 5, 31), 17, "May 2026: 21 weekdays, 4 holidays on weekdays"),
        (D(2026, 5, 1), D(2026, 5, 8), 4, "from a holiday to a holiday: 4, 5, 6, 7 May"),
        (D(2026, 5, 8), D(2026, 5, 8), 0, "empty interval"),
        (D(2026, 5, 11), D(2026, 5, 8), 0, "end before start"),
        (D(2026, 5, 8), D(2026, 5, 10), 0, "holiday then weekend"),
        (D(2025, 12, 31), D(2026, 12, 31), 252, "2026: 261 weekdays, 9 holidays on weekdays"),
        (D(2024, 12, 31), D(2025, 12, 31), 251, "2025: 261 weekdays, 10 holidays on weekdays"),
    ],
)
def test_working_days_between(start: dt.date, end: dt.date, expected: int, why: str) -> None:
    assert working_days_between(start, end) == expected, why


@pytest.mark.parametrize("days", [-1, WORKING_DAYS_MAX + 1])
def test_add_working_days_refuses_a_count_out_of_range(days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        add_working_days(D(2026, 5, 4), days)


DAYS = st.dates(min_value=D(2020, 1, 1), max_value=D(2032, 12, 31))


@given(start=DAYS, days=st.integers(min_value=0, max_value=400))
def test_add_and_count_agree(start: dt.date, days: int) -> None:
    """Counting the working days up to the n-th working day gives n, and that day is worked."""
    end = add_working_days(start, days)
    assert working_days_between(start, end) == days
    if days:
        assert is_working_day(end)
        assert working_days_between(start, end - dt.timedelta(days=1)) == days - 1


@given(start=DAYS, length=st.integers(min_value=0, max_value=120))
def test_count_is_the_number_of_working_days_in_the_interval(start: dt.date, length: int) -> None:
    end = start + dt.timedelta(days=length)
    walked = sum(is_working_day(start + dt.timedelta(days=i)) for i in range(1, length + 1))
    assert working_days_between(start, end) == walked


@given(a=DAYS, b=DAYS, c=DAYS)
def test_count_is_additive(a: dt.date, b: dt.date, c: dt.date) -> None:
    first, middle, last = sorted((a, b, c))
    total = working_days_between(first, last)
    assert total == working_days_between(first, middle) + working_days_between(middle, last)
