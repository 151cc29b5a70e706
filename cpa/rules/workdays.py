"""French working days: Monday to Friday, except public holidays (jours fériés, CT L3133-1).

The training-purchase deadlines of Mon Compte Formation are counted in working days (jours
ouvrés, domain.md §5.2, decision OQ-7). The holidays come from the ``holidays`` package (a kept
calendar, Easter-based feasts computed), metropolitan France by default; ``subdivision`` names
another of its French subdivisions (``"57"`` Moselle, ``"6AE"`` Alsace, ``"974"`` La Réunion…).

A period never counts the day it starts from: the 2nd working day after a Friday request is the
Tuesday (the help pages count "from the day after").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

__all__ = [
    "HOLIDAY_YEARS_CACHED",
    "WORKING_DAYS_MAX",
    "add_working_days",
    "is_working_day",
    "working_days_between",
]

# Years × subdivisions whose holidays stay in memory (a handful are ever asked for).
HOLIDAY_YEARS_CACHED = 256
# The longest period a rule may count: ten years of working days (the longest is 14 days).
WORKING_DAYS_MAX = 2600
_SATURDAY = 5
_ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=HOLIDAY_YEARS_CACHED)
def _holidays(year: int, subdivision: str | None) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("FR", subdiv=subdivision, years=year))


def is_working_day(day: dt.date, *, subdivision: str | None = None) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < _SATURDAY and day not in _holidays(day.year, subdivision)


def add_working_days(start: dt.date, days: int, *, subdivision: str | None = None) -> dt.date:
    """The ``days``-th working day after ``start`` (``start`` itself never counts; 0 → start)."""
    if not 0 <= days <= WORKING_DAYS_MAX:
        raise ValueError(f"days must be within 0..{WORKING_DAYS_MAX}, not {days}")
    day, counted = start, 0
    while counted < days:
        day += _ONE_DAY
        counted += is_working_day(day, subdivision=subdivision)
    return day


def working_days_between(start: dt.date, end: dt.date, *, subdivision: str | None = None) -> int:
    """The working days in (start, end]; 0 when ``end`` is not after ``start``.

    Counted by arithmetic on weeks, not by walking the days, so that the tests can check it
    against ``add_working_days`` as an independent computation.
    """
    if end <= start:
        return 0
    weekdays = _weekdays_up_to(end) - _weekdays_up_to(start)
    closed = sum(
        1
        for year in range(start.year, end.year + 1)
        for holiday in _holidays(year, subdivision)
        if start < holiday <= end and holiday.weekday() < _SATURDAY
    )
    return weekdays - closed


def _weekdays_up_to(day: dt.date) -> int:
    """Mondays to Fridays from day 1 of the proleptic calendar (a Monday) to ``day`` included."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)
