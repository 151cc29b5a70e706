"""CEC yearly credit: 20 h per qualifying activity (2017–2018, ceiling 60 h), converted at 12 €/h
on 2019-01-01, then 240 € per activity per year (ceiling 720 €).

Law: CT L5151-7 to L5151-12, D5151-14; décret 2016-1970; décret 2018-1349 (conversion at 12 €).
Unlike the CPF, the CEC is still credited after retirement (L5151-9): no retirement check here.
An activity counts only for the years ``cec.activities.counted`` lists it: réserve civique,
réserve citoyenne de la police nationale and réserve citoyenne de l'Éducation nationale from 2018
(décret 2017-1058), the others from 2017.

Choices where domain.md is silent: each activity kind counts once per year whatever the number of
declarations; the declarant's figures are taken as measured over the activity's assessment period
(e.g. 6 months of service civique over the last two calendar years); thresholds are those in
force on 1 January of the year, and so is the list of activities counted (an engagement assessed
over two calendar years counts when its year is one the activity is listed for); the réserve
sanitaire threshold is the current 30 days since 2017 and the police reserve's 75 "vacations" a
year are counted as days (cpa decisions stated in ``cec.toml``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, get_args

import msgspec

from cpa.rules.params import (
    PARAMETERS,
    CecActivityDoc,
    ParamValue,
    int_value,
    names_value,
    value_at,
)
from cpa.rules.trace import Fact, Trace

__all__ = [
    "CEC_KINDS",
    "CecAccrual",
    "CecHoursAccrual",
    "CecHoursConversion",
    "Engagement",
    "EngagementKind",
    "cec_activities",
    "cec_convert_hours_to_cents",
    "cec_hours_year_accrual",
    "cec_qualifies",
    "cec_year_accrual",
]

EngagementKind = Literal[
    "civic_service",
    "military_reserve",
    "defence_citizen_reserve",
    "municipal_civil_safety_reserve",
    "health_reserve",
    "apprentice_master",
    "associative_volunteering",
    "education_citizen_reserve",
    "volunteer_firefighter",
    "police_reserve",
    "police_citizen_reserve",
    "civic_reserve",
]
CEC_KINDS: tuple[str, ...] = get_args(EngagementKind)
Role = Literal["board_member", "volunteer_supervisor"]


class Engagement(msgspec.Struct, frozen=True, gc=False):
    """One declared engagement of the year, with the measures its threshold uses."""

    kind: EngagementKind
    hours: int = 0
    hours_in_one_organisation: int = 0
    days: int = 0
    months: int = 0
    years: int = 0
    interventions: int = 0
    role: Role | None = None


class CecAccrual(msgspec.Struct, frozen=True):
    year: int
    amount_cents: int
    gross_cents: int
    ceiling_cents: int
    capped: bool
    qualifying: tuple[str, ...]
    trace: Trace


class CecHoursAccrual(msgspec.Struct, frozen=True):
    year: int
    amount_hours: int
    gross_hours: int
    ceiling_hours: int
    capped: bool
    qualifying: tuple[str, ...]
    trace: Trace


class CecHoursConversion(msgspec.Struct, frozen=True):
    hours: int
    amount_cents: int
    trace: Trace


def cec_activities() -> dict[str, CecActivityDoc]:
    """The twelve activities of D5151-14 with their threshold parameters and periods."""
    return dict(PARAMETERS.activities)


def cec_qualifies(engagement: Engagement, year: int) -> tuple[bool, tuple[ParamValue, ...]]:
    """Whether an engagement of ``year`` counts for the CEC: its activity is counted that year
    (``cec.activities.counted``) and it reaches every threshold of its activity."""
    doc = PARAMETERS.activities[engagement.kind]
    on = dt.date(year, 1, 1)
    counted = value_at("cec.activities.counted", on)
    if engagement.kind not in names_value(counted):
        return False, (counted,)
    used = tuple(value_at(t.parameter, on) for t in doc.thresholds)
    reached = all(
        getattr(engagement, t.measure) >= p.value for t, p in zip(doc.thresholds, used, strict=True)
    )
    if doc.roles and engagement.role not in doc.roles:
        reached = False
    return reached, (counted, *used)


def cec_year_accrual(
    year: int, engagements: Sequence[Engagement], cec_balance_cents: int
) -> CecAccrual:
    """Euro-era CEC credit for ``year`` (240 € per qualifying activity kind, 720 € ceiling)."""
    return CecAccrual(*_accrual("cec.eur", year, engagements, cec_balance_cents))


def cec_hours_year_accrual(
    year: int, engagements: Sequence[Engagement], cec_balance_hours: int
) -> CecHoursAccrual:
    """Hours-era CEC credit for ``year`` (2017–2018: 20 h per activity kind, 60 h ceiling)."""
    return CecHoursAccrual(*_accrual("cec.h", year, engagements, cec_balance_hours))


def _accrual(
    unit: str, year: int, engagements: Sequence[Engagement], balance: int
) -> tuple[int, int, int, int, bool, tuple[str, ...], Trace]:
    """The year's credit in ``unit`` (``cec.eur`` or ``cec.h`` parameters), as the fields of
    both accrual types: a rate per qualifying activity kind, up to a ceiling on the balance."""
    on = dt.date(year, 1, 1)
    rate, cap = value_at(f"{unit}.per_activity", on), value_at(f"{unit}.cap", on)
    qualifying, used = _qualifying(year, engagements)
    gross = len(qualifying) * int_value(rate)
    amount = min(gross, max(0, int_value(cap) - balance))
    facts = _facts(year, engagements, balance)
    trace = Trace(rate.id, (rate, cap, *used), facts, _not_counted(year, engagements))
    return year, amount, gross, int_value(cap), amount < gross, qualifying, trace


def cec_convert_hours_to_cents(hours: int, on: dt.date = dt.date(2019, 1, 1)) -> CecHoursConversion:
    """One-off conversion of the CEC hours stock at 2018-12-31, at 12 € per hour."""
    rate = value_at("cec.conversion_rate", on)
    trace = Trace(rate.id, (rate,), {"hours": hours, "on": on})
    return CecHoursConversion(hours, hours * int_value(rate), trace)


def _qualifying(
    year: int, engagements: Sequence[Engagement]
) -> tuple[tuple[str, ...], tuple[ParamValue, ...]]:
    kinds: list[str] = []
    used: list[ParamValue] = []
    for engagement in engagements:
        reached, params = cec_qualifies(engagement, year)
        used.extend(p for p in params if p not in used)  # the counted list once
        if reached and engagement.kind not in kinds:  # once per activity kind and year
            kinds.append(engagement.kind)
    return tuple(sorted(kinds)), tuple(used)


def _not_counted(year: int, engagements: Sequence[Engagement]) -> str:
    """Say which engagements earn nothing because their activity does not count that year."""
    counted = value_at("cec.activities.counted", dt.date(year, 1, 1))
    kinds = sorted({e.kind for e in engagements} - set(names_value(counted)))
    return "; ".join(
        f"{kind}: not counted for activities of {year}{_since(kind)}" for kind in kinds
    )


def _since(kind: str) -> str:
    """From when an activity counts, with the text that says so, or nothing if it never does."""
    for value in filter(None, PARAMETERS.series["cec.activities.counted"].values):
        if kind in names_value(value):
            return f", only from {value.effective_from} ({value.reference.text.split(':')[0]})"
    return ""


def _facts(year: int, engagements: Sequence[Engagement], balance: int) -> dict[str, Fact]:
    facts: dict[str, Fact] = {"year": year, "cec_balance_before": balance}
    for engagement in engagements:
        for field in engagement.__struct_fields__[1:]:
            value = getattr(engagement, field)
            if value:
                facts[f"{engagement.kind}.{field}"] = value
    return facts
