"""C2P points: factors and thresholds by date, yearly points, reserved points, uses of points.

Law: CT L4163-1 ff., D4163-2 (factors and thresholds), R4163-9 (points), L4163-7 ff., R4163-11,
D4163-26, R4163-14 (uses); ordonnance 2017-1389; loi 2023-270 art. 17, décrets 2023-759/760.

Choices where domain.md is silent:

- Exposure duration is counted in whole calendar months per contract (start to the day after its
  end), summed over the year's contracts (at most 12), and cut into 3-month periods.
- A factor counts only on the days it is in force (e.g. manual handling from 2016-07-01 to
  2017-09-30); a contract straddling a threshold change uses the transitional value when the law
  gives one (2023: 113 nights / 43 shifts), otherwise the value in force at the contract's end.
- The points regime of a contract is the one in force on its last day within the year: before
  2023-09-01, 1 point per period (2 when at least two factors are above threshold over the year,
  OQ-12) and at most 8 a year; from then, 1 point per factor and period. The 100-point career
  ceiling applies to points of the old regime only.
- Factors are the law's (CT L4163-1: 4 in 2015, 10 from 2016-07-01, 6 from 2017-10-01), not the
  input keys: noise is one factor measured by two criteria (``noise_daily``, ``noise_peak``,
  D4163-2 2° c), so meeting either or both is one exposure, for polyexposure and per-factor points
  alike.
- Doubling (born before 1956-07-01, OQ-10) applies after the yearly maximum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from cpa.errors import CpaError, InvalidInput
from cpa.rules.params import (
    PARAMETERS,
    FactorDoc,
    ParamValue,
    date_value,
    int_value,
    value_at,
    value_or_none,
)
from cpa.rules.trace import Fact, Trace

PART_TIME_REDUCTION_MIN_BP = 2000
PART_TIME_REDUCTION_MAX_BP = 8000
"""A part-time use reduces working time by 20 % to 80 % (basis points; D4163-18)."""

__all__ = [
    "PART_TIME_REDUCTION_MAX_BP",
    "PART_TIME_REDUCTION_MIN_BP",
    "RESERVE_USES",
    "C2pConversion",
    "C2pUse",
    "C2pYearPoints",
    "Exposure",
    "Factor",
    "InsufficientPoints",
    "ReservedPointsNotUsable",
    "UseNotAvailable",
    "c2p_conversion",
    "c2p_factors_in_force",
    "c2p_points_reserved_remaining",
    "c2p_reserved_points",
    "c2p_year_points",
    "factor_threshold",
    "legal_factor",
    "whole_months",
]

# The input keys of exposures: one per criterion (noise has two, see legal_factor).
Factor = Literal[
    "night_work",
    "alternating_shifts",
    "repetitive_work",
    "extreme_temperatures",
    "noise_daily",
    "noise_peak",
    "hyperbaric",
    "manual_handling",
    "painful_postures",
    "vibrations",
    "chemical_agents",
]
C2pUse = Literal["training", "reconversion", "part_time", "retirement"]
# The uses the reserved points fund (reconversion since 2023-09-01, CT L4163-7): a point used
# for them spends the reserve first; the other uses may not touch it.
RESERVE_USES: frozenset[str] = frozenset({"training", "reconversion"})


class ReservedPointsNotUsable(CpaError, slug="reserved-points-not-usable", status=422):
    """Reserved points can only fund training or reconversion."""


class InsufficientPoints(CpaError, slug="insufficient-points", status=422):
    """Not enough C2P points."""


class UseNotAvailable(CpaError, slug="c2p-use-not-available", status=422):
    """This use of C2P points is not available on that date or at that age."""


class Exposure(msgspec.Struct, frozen=True):
    """One contract's yearly exposures: factor → intensity in the unit of its threshold."""

    contract_start: dt.date
    contract_end: dt.date  # inclusive
    factors: Mapping[str, int]


class C2pYearPoints(msgspec.Struct, frozen=True):
    year: int
    points: int  # acquired after the career ceiling
    gross_points: int
    capped: bool
    factors_above_threshold: tuple[str, ...]  # legal factors (noise once), see legal_factor
    trace: Trace


class C2pConversion(msgspec.Struct, frozen=True):
    use: C2pUse
    points: int
    reserved_points_used: int
    trace: Trace
    amount_cents: int | None = None
    training_hours: int | None = None
    part_time_days: int | None = None
    part_time_months_at_half_time: int | None = None
    retirement_quarters: int | None = None


def whole_months(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start`` to ``end`` inclusive (Jan 1–Dec 31 is 12)."""
    after = end + dt.timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    return months - 1 if after.day < start.day else months


def c2p_factors_in_force(on: dt.date) -> tuple[str, ...]:
    """The legal factors (CT L4163-1) in force on ``on``: noise once, whatever its criteria."""
    in_force = (
        d.legal_factor for d in PARAMETERS.factors.values() if value_or_none(d.threshold, on)
    )
    return tuple(dict.fromkeys(in_force))


def legal_factor(criterion: str) -> str:
    """The factor an exposure key measures: ``noise_daily`` and ``noise_peak`` are ``noise``."""
    return _factor(criterion).legal_factor


def factor_threshold(factor: str, start: dt.date, end: dt.date) -> ParamValue | None:
    """The threshold applying to a contract period, or None if the factor never applied."""
    doc = _factor(factor)
    first, last = value_or_none(doc.threshold, start), value_or_none(doc.threshold, end)
    if first is None or last is None or first is last:
        return last or first
    transition = value_or_none(doc.transition, start) if doc.transition else None
    return transition or last


# ------------------------------------------------------------------------------- points


class _Regime(msgspec.Struct):
    """Exposure of the year's contracts that fall under one points regime."""

    months_by_factor: dict[str, int]
    contract_months: int = 0  # months exposed to at least one factor, summed over contracts


def c2p_year_points(
    year: int,
    exposures: Sequence[Exposure],
    birth_date: dt.date,
    points_acquired_before: int,
) -> C2pYearPoints:
    """Points acquired for ``year``; ``points_acquired_before`` feeds the old career ceiling."""
    old, new = _Regime({}), _Regime({})
    used: dict[str, ParamValue] = {}
    for exposure in exposures:
        _add_exposure(year, exposure, old, new, used)
    old_points, old_params = _old_regime_points(year, old)
    new_points, new_params = _new_regime_points(year, new)
    multiplier, doubling = _doubling(year, birth_date)
    old_points, new_points = old_points * multiplier, new_points * multiplier
    room = old_points
    cap = value_or_none("c2p.points.career_cap", dt.date(year, 1, 1))
    if cap is not None and old_points:
        room = min(old_points, max(0, int_value(cap) - points_acquired_before))
        old_params += (cap,)
    gross = old_points + new_points
    points = room + new_points
    params = (*new_params, *old_params, *used.values(), *doubling)
    if not params:
        params = (value_at("c2p.contract.min_months", dt.date(year, 1, 1)),)
    above = tuple(sorted({*old.months_by_factor, *new.months_by_factor}))
    facts: dict[str, Fact] = {
        "year": year,
        "birth_date": birth_date,
        "points_acquired_before": points_acquired_before,
        "contracts": len(exposures),
    }
    trace = Trace(params[0].id, params, facts)
    return C2pYearPoints(year, points, gross, points < gross, above, trace)


def _add_exposure(
    year: int, exposure: Exposure, old: _Regime, new: _Regime, used: dict[str, ParamValue]
) -> None:
    start = max(exposure.contract_start, dt.date(year, 1, 1))
    end = min(exposure.contract_end, dt.date(year, 12, 31))
    min_months = value_at(
        "c2p.contract.min_months", start if start <= end else exposure.contract_start
    )
    if start > end or whole_months(exposure.contract_start, exposure.contract_end) < int_value(
        min_months
    ):
        return
    regime = new if value_or_none("c2p.points.per_quarter", end) else old
    months_by_factor: dict[str, int] = {}
    for criterion, intensity in exposure.factors.items():
        threshold = factor_threshold(criterion, start, end)
        if threshold is None or intensity < int_value(threshold):
            continue
        used[threshold.id] = threshold
        doc = _factor(criterion)
        months = _months_in_force(doc, start, end)
        # One factor however many of its criteria are met (D4163-2 2° c: noise).
        factor = doc.legal_factor
        months_by_factor[factor] = max(months_by_factor.get(factor, 0), months)
    for factor, months in months_by_factor.items():
        regime.months_by_factor[factor] = regime.months_by_factor.get(factor, 0) + months
    regime.contract_months += max(months_by_factor.values(), default=0)


def _months_in_force(doc: FactorDoc, start: dt.date, end: dt.date) -> int:
    series = PARAMETERS.series[doc.threshold]
    born = series.starts[0]
    dies = series.starts[-1] if series.values[-1] is None else None
    first = max(start, born)
    last = min(end, dies - dt.timedelta(days=1)) if dies else end
    return whole_months(first, last) if first <= last else 0


def _old_regime_points(year: int, regime: _Regime) -> tuple[int, tuple[ParamValue, ...]]:
    if not regime.months_by_factor:
        return 0, ()
    on = dt.date(year, 1, 1)
    period = value_at("c2p.points.months_per_period", on)
    mono, poly = (
        value_at("c2p.points.mono_per_quarter", on),
        value_at("c2p.points.poly_per_quarter", on),
    )
    yearly_max = value_at("c2p.points.yearly_max", on)
    rule = poly if len(regime.months_by_factor) >= 2 else mono  # OQ-12: multiple over the year
    periods = min(regime.contract_months, 12) // int_value(period)
    points = min(periods * int_value(rule), int_value(yearly_max))
    return points, (rule, period, yearly_max)


def _new_regime_points(year: int, regime: _Regime) -> tuple[int, tuple[ParamValue, ...]]:
    if not regime.months_by_factor:
        return 0, ()
    on = dt.date(year, 12, 31)
    period = value_at("c2p.points.months_per_period", on)
    per_quarter = value_at("c2p.points.per_quarter", on)
    periods = sum(min(m, 12) // int_value(period) for m in regime.months_by_factor.values())
    return periods * int_value(per_quarter), (per_quarter, period)


def _doubling(year: int, birth_date: dt.date) -> tuple[int, tuple[ParamValue, ...]]:
    on = dt.date(year, 1, 1)
    born_before = value_at("c2p.points.doubling.born_before", on)
    assert isinstance(born_before.value, dt.date)
    if birth_date >= born_before.value:
        return 1, ()
    factor = value_at("c2p.points.doubling.factor", on)
    return int_value(factor), (born_before, factor)


def c2p_reserved_points(birth_date: dt.date, on: dt.date) -> tuple[int, tuple[ParamValue, ...]]:
    """How many first points are reserved to training/reconversion for this holder."""
    full_from = value_at("c2p.reserved.full_born_from", on)
    partial_from = value_at("c2p.reserved.partial_born_from", on)
    if birth_date >= date_value(full_from):
        quota = value_at("c2p.reserved.points", on)
    elif birth_date >= date_value(partial_from):
        quota = value_at("c2p.reserved.partial_points", on)
    else:
        return 0, (partial_from,)
    return int_value(quota), (quota, full_from, partial_from)


def c2p_points_reserved_remaining(
    birth_date: dt.date, on: dt.date, points: int, points_used_by_use: Mapping[str, int]
) -> int:
    """How many of the holder's ``points`` are still reserved to training/reconversion on
    ``on``: the quota less the points already used for those uses, at most what is available.

    ``points`` may be negative (a debt, OQ-5): nothing is then available, so nothing reserved.
    ``points_used_by_use``: the points used so far, by use (any use; only ``RESERVE_USES`` count).
    """
    quota, _ = c2p_reserved_points(birth_date, on)
    used = sum(n for use, n in points_used_by_use.items() if use in RESERVE_USES)
    return min(max(points, 0), max(0, quota - used))


# ------------------------------------------------------------------------------- uses


def c2p_conversion(
    use: C2pUse,
    points: int,
    on: dt.date,
    birth_date: dt.date,
    points_available: int,
    points_reserved_remaining: int,
    reduction_basis_points: int = 5000,
) -> C2pConversion:
    """What ``points`` buy for ``use`` on ``on``; raise a CpaError for a refused use.

    ``points_reserved_remaining`` is the part of ``points_available`` still reserved to
    training/reconversion; ``reduction_basis_points`` is the working-time reduction of a
    part-time use (5000 = half time).
    """
    if points <= 0 or points_available < 0 or points_reserved_remaining < 0:
        raise InvalidInput(
            "points must be positive", errors=[{"field": "$.points", "message": "at least 1"}]
        )
    if points > points_available:
        raise InsufficientPoints(f"{points} points asked, {points_available} available")
    facts: dict[str, Fact] = {
        "use": use,
        "points": points,
        "on": on,
        "birth_date": birth_date,
        "points_available": points_available,
        "points_reserved_remaining": points_reserved_remaining,
    }
    if use in RESERVE_USES:
        return _funding(use, points, on, min(points, points_reserved_remaining), facts)
    if points > points_available - points_reserved_remaining:
        raise ReservedPointsNotUsable(
            f"{points_reserved_remaining} of the {points_available} points are reserved to training"
        )
    tranche = value_at("c2p.use.tranche_points", on)
    if points % int_value(tranche):
        raise InvalidInput(
            f"{use} uses points by tranches of {tranche.value}",
            errors=[{"field": "$.points", "message": f"must be a multiple of {tranche.value}"}],
        )
    tranches = points // int_value(tranche)
    if use == "part_time":
        return _part_time(points, tranches, on, birth_date, reduction_basis_points, tranche, facts)
    return _retirement(points, tranches, on, birth_date, tranche, facts)


def _funding(
    use: C2pUse, points: int, on: dt.date, reserved_used: int, facts: dict[str, Fact]
) -> C2pConversion:
    if use == "training":
        hours = value_or_none("c2p.use.training.hours_per_point", on)
        if hours is not None:  # C3P era: points bought training hours
            trace = Trace(hours.id, (hours,), facts)
            return C2pConversion(
                use, points, reserved_used, trace, training_hours=points * int_value(hours)
            )
    rate = value_or_none(f"c2p.use.{use}.cents_per_point", on)
    if rate is None:
        raise UseNotAvailable(f"C2P use {use} is not available on {on.isoformat()}")
    trace = Trace(rate.id, (rate,), facts)
    return C2pConversion(use, points, reserved_used, trace, amount_cents=points * int_value(rate))


def _part_time(
    points: int,
    tranches: int,
    on: dt.date,
    birth_date: dt.date,
    reduction_basis_points: int,
    tranche: ParamValue,
    facts: dict[str, Fact],
) -> C2pConversion:
    if not PART_TIME_REDUCTION_MIN_BP <= reduction_basis_points <= PART_TIME_REDUCTION_MAX_BP:
        message = f"must be {PART_TIME_REDUCTION_MIN_BP}..{PART_TIME_REDUCTION_MAX_BP}"
        raise InvalidInput(
            "the part-time reduction must be between 20 % and 80 %",
            errors=[{"field": "$.reduction_basis_points", "message": message}],
        )
    # No limit before décret 2023-760 (2023-09-01): the parameter starts that day.
    max_before_60 = value_or_none("c2p.use.part_time.max_points_before_60", on)
    limits = (max_before_60,) if max_before_60 is not None else ()
    if max_before_60 and _age(birth_date, on) < 60 and points > int_value(max_before_60):
        raise UseNotAvailable(f"at most {max_before_60.value} points for part time before 60")
    days_param = value_at("c2p.use.part_time.days_per_tranche", on)
    months_param = value_at("c2p.use.part_time.months_at_half_time_per_tranche", on)
    # days = tranches × D / coefficient, rounded to the nearest day, a half day down: the
    # operator's own example gives 112 days (not 113) for 45 / 0.4 (D4163-26).
    num, den = tranches * int_value(days_param) * 10_000, reduction_basis_points
    days = (2 * num + den - 1) // (2 * den)
    facts["reduction_basis_points"] = reduction_basis_points
    trace = Trace(days_param.id, (days_param, months_param, tranche, *limits), facts)
    months = tranches * int_value(months_param)
    return C2pConversion(
        "part_time", points, 0, trace, part_time_days=days, part_time_months_at_half_time=months
    )


def _retirement(
    points: int,
    tranches: int,
    on: dt.date,
    birth_date: dt.date,
    tranche: ParamValue,
    facts: dict[str, Fact],
) -> C2pConversion:
    min_age = value_at("c2p.use.retirement.min_age_years", on)
    if _age(birth_date, on) < int_value(min_age):
        raise UseNotAvailable(f"the retirement use can be asked from age {min_age.value}")
    per_tranche = value_at("c2p.use.retirement.quarters_per_tranche", on)
    max_quarters = value_at("c2p.use.retirement.max_quarters", on)
    quarters = tranches * int_value(per_tranche)
    if quarters > int_value(max_quarters):
        raise UseNotAvailable(f"at most {max_quarters.value} quarters can be obtained")
    trace = Trace(per_tranche.id, (per_tranche, max_quarters, tranche, min_age), facts)
    return C2pConversion("retirement", points, 0, trace, retirement_quarters=quarters)


def _age(birth_date: dt.date, on: dt.date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _factor(factor: str) -> FactorDoc:
    try:
        return PARAMETERS.factors[factor]
    except KeyError:
        raise InvalidInput(
            f"unknown C2P factor {factor}", errors=[{"field": "factors", "message": factor}]
        ) from None
