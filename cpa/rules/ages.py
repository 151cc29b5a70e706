"""Ages the law ties the accounts to: from when a person can have a career at all, and when the
CPF stops being credited.

- Youngest age (``cpa.career.min_age_years``): 15, an apprentice's (CT L4153-1 1°, L5151-2).
  A year of activity, engagement or exposure wholly before it, or before birth, is an impossible
  career, refused by the simulation and by the declarations alike (``career_problem``).
- Stop age (``cpf.stop.full_rate_age_months``): the CPF is no longer credited once the holder
  meets CT L5421-4 1° (CT L6323-3 al. 3), the age of the automatic full-rate pension (CSS
  L351-8 1°) by birth cohort, even with no pension claimed; or from full-rate retirement
  (``cpf_credit_stop``: whichever comes first).

An age of N months is reached on the birthday that completes it; a birthday the month lacks
(29 February) moves to the 1st of the next month (``cpa.age.missing_birthday_next_month``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools

import msgspec

from cpa.rules.params import ParamValue, first_value, int_value, value_at, value_or_none

__all__ = [
    "CareerProblem",
    "CreditStop",
    "age_reached_on",
    "career_problem",
    "contract_problem",
    "cpf_credit_stop",
    "earliest_career_day",
]

_MONTHS_PER_YEAR = 12


class CreditStop(msgspec.Struct, frozen=True, gc=False):
    """The first day the CPF is no longer credited, why, and the parameter that says so."""

    on: dt.date
    reason: str  # "full_rate_retirement" or "full_rate_age"
    rule: ParamValue | None  # None: the retirement date, a fact given, not a parameter


class CareerProblem(msgspec.Struct, frozen=True, gc=False):
    """Why an item cannot be part of the person's career."""

    message: str
    rule: ParamValue


def age_reached_on(birth_date: dt.date, months: int) -> dt.date:
    """The day a person born on ``birth_date`` is ``months`` months old (``date.max`` when
    that day is past the calendar: never, as far as any rule can tell)."""
    total = birth_date.month - 1 + months
    year, month = birth_date.year + total // _MONTHS_PER_YEAR, total % _MONTHS_PER_YEAR + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    last_day = calendar.monthrange(year, month)[1]
    if birth_date.day <= last_day:
        return dt.date(year, month, birth_date.day)
    if _by_cohort("cpa.age.missing_birthday_next_month", birth_date).value:
        return dt.date(year, month, last_day) + dt.timedelta(days=1)
    return dt.date(year, month, last_day)


def _by_cohort(param_id: str, birth_date: dt.date) -> ParamValue:
    """A parameter whose rows are birth cohorts; a birth before the first row is in it."""
    return value_or_none(param_id, birth_date) or first_value(param_id)


def cpf_credit_stop(
    birth_date: dt.date | None, full_rate_retirement_on: dt.date | None
) -> CreditStop | None:
    """The day the CPF stops being credited (CT L6323-3 al. 3): full-rate retirement or the
    automatic full-rate age (L5421-4 1°, CSS L351-8 1°), whichever comes first."""
    stops = []
    if full_rate_retirement_on is not None:
        stops.append(CreditStop(full_rate_retirement_on, "full_rate_retirement", None))
    if birth_date is not None:
        age = _by_cohort("cpf.stop.full_rate_age_months", birth_date)
        stops.append(CreditStop(age_reached_on(birth_date, int_value(age)), "full_rate_age", age))
    return min(stops, key=lambda stop: stop.on, default=None)


def earliest_career_day(birth_date: dt.date, on: dt.date) -> tuple[dt.date, ParamValue]:
    """The day the person reaches the youngest age at which one can work and hold an account,
    by the rule in force ``on`` (a day of the item's year, 2015 or later)."""
    min_age = value_at("cpa.career.min_age_years", on)
    return age_reached_on(birth_date, int_value(min_age) * _MONTHS_PER_YEAR), min_age


CAREER_PROBLEMS_CACHED = 1 << 16
"""Birth dates × years remembered: a bulk intake asks the same pairs again and again."""


@functools.lru_cache(maxsize=CAREER_PROBLEMS_CACHED)  # pure: the parameters never change
def career_problem(birth_date: dt.date, year: int) -> CareerProblem | None:
    """Why ``year`` cannot be in the career (all of it before birth, or before the youngest
    age), or None."""
    earliest, rule = earliest_career_day(birth_date, dt.date(year, 1, 1))
    if birth_date.year > year:
        return CareerProblem(f"{year} is before the person's birth ({birth_date})", rule)
    if earliest.year > year:
        age = int_value(rule)
        message = f"{year} is before the person is {age} ({earliest}, {rule.reference.article})"
        return CareerProblem(message, rule)
    return None


def contract_problem(
    birth_date: dt.date, contract_start: dt.date, contract_end: dt.date
) -> CareerProblem | None:
    """Why a contract cannot be in the career (it ends before the youngest age, or starts
    before birth), or None."""
    earliest, rule = earliest_career_day(birth_date, contract_end)
    if contract_start < birth_date:
        return CareerProblem(f"starts before the person's birth ({birth_date})", rule)
    if contract_end < earliest:
        age = int_value(rule)
        message = f"ends before the person is {age} ({earliest}, {rule.reference.article})"
        return CareerProblem(message, rule)
    return None
