"""CPF yearly accrual: hours era (2015–2018), one-off conversion (2019-01-01), euro era (2019–).

Law: CT L6323-11, L6323-11-1, R6323-1 (old and current), R6323-3-1, R6323-22, L6323-33/34,
L6323-3 al. 3 and L5421-4 1° (end of crediting at full-rate retirement or at the automatic
full-rate age, CSS L351-8 1°: ``cpa.rules.ages``); décret 2018-1153 (conversion).

Choices where domain.md is silent (each one a parameter in ``cpf.toml`` or documented here):

- Parameters of the rights for year N are those in force on 1 January of N.
- Worked time above the reference time counts as the reference time (no credit above 100 %).
- Hours era, crossing the 120 h tier inside a year: the part of the year needed to reach 120 h at
  24 h/yr is credited at 24 h/yr, the rest of the year at 12 h/yr (time-proportional).
- Independents accrue from 2018 (hours era: pro rata of months); ESAT workers from 2017 (hours era:
  full-time rate, no pro rata). The low-qualified and disability majorations apply to employees
  (the algorithm of domain.md §2.2); an ESAT or independent activity has its own rate and ceiling.
- Crediting stopping inside year N (full-rate retirement, or the day the automatic full-rate
  age is reached, whichever first): N is credited pro rata of its days before that date
  (``cpf.retirement.year_pro_rata_days``); no credit for any later year.
- Every pro rata is kept as an exact fraction and rounded once, up, at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from cpa.rules.ages import cpf_credit_stop
from cpa.rules.params import ParamValue, int_value, value_at, value_or_none
from cpa.rules.trace import Fact, Trace

__all__ = [
    "CONVERSION_DATE",
    "Activity",
    "ActivityKind",
    "CpfAccrual",
    "CpfHoursAccrual",
    "HoursConversion",
    "PersonYearStatus",
    "convert_hours_to_cents",
    "cpf_hours_year_accrual",
    "cpf_year_accrual",
]

ActivityKind = Literal["employee", "independent", "esat"]
CONVERSION_DATE = dt.date(2019, 1, 1)
FIRST_EURO_YEAR = 2019
_BASIS_POINTS = 10_000


class Activity(msgspec.Struct, frozen=True, gc=False):
    """One category of activity of the holder in the year (hours summed over employers).

    ``reference_centihours`` 0 means the default reference time of the year (1 607 h).
    """

    kind: ActivityKind
    worked_centihours: int = 0
    reference_centihours: int = 0
    months_active: int = 0


class PersonYearStatus(msgspec.Struct, frozen=True, gc=False):
    """What the holder is, for the year being credited. ``birth_date`` gives the automatic
    full-rate age that stops the crediting (``cpa.rules.yearly`` fills it from the person)."""

    low_qualified: bool = False
    disability: bool = False
    full_rate_retirement_on: dt.date | None = None
    birth_date: dt.date | None = None


class CpfAccrual(msgspec.Struct, frozen=True):
    """Euro-era credit of one year: ``amount_cents`` is what is credited after the ceiling."""

    year: int
    amount_cents: int
    gross_cents: int
    ceiling_cents: int
    capped: bool
    trace: Trace


class CpfHoursAccrual(msgspec.Struct, frozen=True):
    """Hours-era credit of one year, in whole hours, after the ceiling."""

    year: int
    amount_hours: int
    gross_hours: int
    ceiling_hours: int
    capped: bool
    trace: Trace


class HoursConversion(msgspec.Struct, frozen=True):
    hours: int
    amount_cents: int
    trace: Trace


# A credit before rounding: numerator / denominator, the ceiling it brings, and its trace bits.
class _Candidate(msgspec.Struct, frozen=True, gc=False):
    num: int
    den: int
    ceiling: int
    rule: ParamValue
    used: tuple[ParamValue, ...]
    kind: str


def _ceil_div(num: int, den: int) -> int:
    return -(-num // den)


# ------------------------------------------------------------------------------- euro era


class _EuroYear(msgspec.Struct, frozen=True, gc=False):
    """Parameters of the euro era in force on 1 January of a year, read once per year."""

    rate_base: ParamValue
    cap_base: ParamValue
    half_time: ParamValue
    reference_hours: ParamValue
    rounding: ParamValue
    lq_rate: ParamValue
    lq_cap: ParamValue
    lq_own_rate: ParamValue
    boe_majoration: ParamValue
    boe_cap: ParamValue
    boe_pro_rata: ParamValue
    esat_rate: ParamValue
    esat_cap: ParamValue
    ind_rate: ParamValue
    ind_cap: ParamValue
    ind_months: ParamValue
    retirement: ParamValue
    # The same values as plain ints, read once: the hot path does no type checks.
    rate_base_n: int
    cap_base_n: int
    half_time_n: int
    reference_hours_n: int
    lq_cap_n: int
    boe_majoration_n: int
    boe_cap_n: int
    esat_rate_n: int
    esat_cap_n: int
    ind_rate_n: int
    ind_cap_n: int
    ind_months_n: int


_INT_FIELDS = (
    "rate_base",
    "cap_base",
    "half_time",
    "reference_hours",
    "lq_cap",
    "boe_majoration",
    "boe_cap",
    "esat_rate",
    "esat_cap",
    "ind_rate",
    "ind_cap",
    "ind_months",
)
_EURO_YEARS: dict[int, _EuroYear] = {}


def _euro_year(year: int) -> _EuroYear:
    snapshot = _EURO_YEARS.get(year)
    if snapshot is None:
        on = dt.date(year, 1, 1)
        fields = {
            "rate_base": "cpf.eur.rate_base",
            "cap_base": "cpf.eur.cap_base",
            "half_time": "cpf.eur.half_time_threshold",
            "reference_hours": "cpf.eur.reference_hours",
            "rounding": "cpf.eur.rounding_step",
            "lq_rate": "cpf.eur.low_qualified.rate",
            "lq_cap": "cpf.eur.low_qualified.cap",
            "lq_own_rate": "cpf.eur.low_qualified.pro_rata_own_rate",
            "boe_majoration": "cpf.eur.boe.majoration",
            "boe_cap": "cpf.eur.boe.cap",
            "boe_pro_rata": "cpf.eur.boe.pro_rata",
            "esat_rate": "cpf.eur.esat.rate",
            "esat_cap": "cpf.eur.esat.cap",
            "ind_rate": "cpf.eur.independent.rate",
            "ind_cap": "cpf.eur.independent.cap",
            "ind_months": "cpf.eur.independent.months_per_year",
            "retirement": "cpf.retirement.year_pro_rata_days",
        }
        params: dict[str, Any] = {name: value_at(pid, on) for name, pid in fields.items()}
        params |= {f"{name}_n": int_value(params[name]) for name in _INT_FIELDS}
        snapshot = _EuroYear(**params)
        _EURO_YEARS[year] = snapshot
    return snapshot


def cpf_year_accrual(
    year: int,
    activities: Sequence[Activity],
    status: PersonYearStatus,
    statutory_balance_cents: int,
) -> CpfAccrual:
    """Euro-era rights for ``year`` (credited in the campaign of N+1), ceiling applied.

    ``statutory_balance_cents`` is the balance subject to the ceiling before this credit
    (dotations and abondements excluded).
    """
    p = _euro_year(year)
    best: _Candidate | None = None
    ceiling = 0
    for activity in activities:
        candidate = _euro_candidate(p, activity, status)
        ceiling = max(ceiling, candidate.ceiling)  # plural activity: most favourable ceiling
        if best is None or candidate.num * best.den > best.num * candidate.den:
            best = candidate
    if best is None:
        return _nothing(year, p.rate_base, int_value(p.cap_base), status, statutory_balance_cents)
    num, den, note, stop_used = _stop_share(year, best.num, best.den, p.retirement, status)
    step = p.rounding.value
    assert isinstance(step, int)
    gross = _ceil_div(num, den * step) * step
    room = max(0, ceiling - statutory_balance_cents)
    amount = min(gross, room)
    facts = _facts(year, activities, status, statutory_balance_cents, best.kind)
    trace = Trace(best.rule.id, best.used + stop_used, facts, note)
    return CpfAccrual(year, amount, gross, ceiling, amount < gross, trace)


def _euro_candidate(p: _EuroYear, activity: Activity, status: PersonYearStatus) -> _Candidate:
    if activity.kind == "employee":
        return _euro_employee(p, activity, status)
    if activity.kind == "independent":
        months = p.ind_months_n
        used = (p.ind_rate, p.ind_months, p.rounding, p.ind_cap)
        num = p.ind_rate_n * min(activity.months_active, months)
        return _Candidate(num, months, p.ind_cap_n, p.ind_rate, used, "independent")
    # ESAT: the full amount for any admission during the year, whatever the working time.
    esat_used = (p.esat_rate, p.esat_cap)
    return _Candidate(p.esat_rate_n, 1, p.esat_cap_n, p.esat_rate, esat_used, "esat")


def _euro_employee(p: _EuroYear, activity: Activity, status: PersonYearStatus) -> _Candidate:
    if status.low_qualified:
        rate_param, cap, cap_param = p.lq_rate, p.lq_cap_n, p.lq_cap
        prorata_param = p.lq_rate if p.lq_own_rate.value else p.rate_base  # OQ-3
    else:
        rate_param = prorata_param = p.rate_base
        cap, cap_param = p.cap_base_n, p.cap_base
    reference = activity.reference_centihours or p.reference_hours_n
    worked = min(activity.worked_centihours, reference)
    boe = status.disability and worked > 0  # majoration only if activity rights were acquired
    majoration = p.boe_majoration_n if boe else 0
    used: tuple[ParamValue, ...] = (rate_param, p.half_time, cap_param)
    if boe:
        cap = max(cap, p.boe_cap_n)
        used += (p.boe_majoration, p.boe_cap)
    if worked * _BASIS_POINTS >= reference * p.half_time_n:
        return _Candidate(int_value(rate_param) + majoration, 1, cap, rate_param, used, "employee")
    used += (prorata_param, p.reference_hours, p.rounding, p.lq_own_rate, p.boe_pro_rata)
    rate = int_value(prorata_param)
    if p.boe_pro_rata.value:  # OQ-2: the +300 € follows the pro rata of the base amount
        return _Candidate(
            (rate + majoration) * worked, reference, cap, prorata_param, used, "employee"
        )
    num = rate * worked + majoration * reference
    return _Candidate(num, reference, cap, prorata_param, used, "employee")


# ------------------------------------------------------------------------------- hours era


def cpf_hours_year_accrual(
    year: int,
    activities: Sequence[Activity],
    status: PersonYearStatus,
    statutory_balance_hours: int,
) -> CpfHoursAccrual:
    """Hours-era rights (2015–2018) for ``year``, rounded up to the hour, ceiling applied."""
    on = dt.date(year, 1, 1)
    rate_base = value_at("cpf.h.rate_base", on)
    best: _Candidate | None = None
    ceiling = 0
    for activity in activities:
        candidate = _hours_candidate(on, activity, status, statutory_balance_hours)
        if candidate is None:
            continue
        ceiling = max(ceiling, candidate.ceiling)
        if best is None or candidate.num * best.den > best.num * candidate.den:
            best = candidate
    if best is None:
        cap = int_value(value_at("cpf.h.cap", on))
        return _nothing_hours(year, rate_base, cap, activities, status, statutory_balance_hours)
    retirement = value_at("cpf.retirement.year_pro_rata_days", on)
    num, den, note, stop_used = _stop_share(year, best.num, best.den, retirement, status)
    step = int_value(value_at("cpf.h.rounding_step", on))
    gross = _ceil_div(num, den * step) * step
    amount = min(gross, max(0, ceiling - statutory_balance_hours))
    facts = _facts(year, activities, status, statutory_balance_hours, best.kind)
    trace = Trace(best.rule.id, best.used + stop_used, facts, note)
    return CpfHoursAccrual(year, amount, gross, ceiling, amount < gross, trace)


def _hours_candidate(
    on: dt.date, activity: Activity, status: PersonYearStatus, balance: int
) -> _Candidate | None:
    """The year's share (worked/reference, months/12 or 1) fed to the hours rates, or None."""
    if activity.kind == "employee":
        ref_param = value_at("cpf.h.reference_hours", on)
        reference = activity.reference_centihours or int_value(ref_param)
        share = (min(activity.worked_centihours, reference), reference)
        extra: tuple[ParamValue, ...] = (ref_param,)
    elif activity.kind == "independent":
        allowed = value_or_none("cpf.h.independent.months_pro_rata", on)
        if allowed is None:
            return None
        share, extra = (min(activity.months_active, 12), 12), (allowed,)
    else:
        allowed = value_or_none("cpf.h.esat.full_time", on)
        if allowed is None:
            return None
        share, extra = (1, 1), (allowed,)
    lq_rate = value_or_none("cpf.h.low_qualified.rate", on) if status.low_qualified else None
    if lq_rate is not None:
        lq_cap = value_at("cpf.h.low_qualified.cap", on)
        num = int_value(lq_rate) * share[0]
        return _Candidate(
            num, share[1], int_value(lq_cap), lq_rate, (lq_rate, lq_cap, *extra), activity.kind
        )
    return _tiered(on, share, balance, extra, activity.kind)


def _tiered(
    on: dt.date, share: tuple[int, int], balance: int, extra: tuple[ParamValue, ...], kind: str
) -> _Candidate:
    """24 h/yr until the balance reaches 120 h, then 12 h/yr for the rest of the year."""
    r1p, tier_p = value_at("cpf.h.rate_base", on), value_at("cpf.h.tier1_cap", on)
    r2p, cap_p = value_at("cpf.h.rate_reduced", on), value_at("cpf.h.cap", on)
    r1, r2, tier = int_value(r1p), int_value(r2p), int_value(tier_p)
    worked, reference = share
    used = (r1p, tier_p, r2p, cap_p, *extra)
    room = max(0, tier - balance)
    if r1 * worked <= room * reference:
        return _Candidate(r1 * worked, reference, int_value(cap_p), r1p, used, kind)
    # gain = room + r2 * (worked/reference - room/r1), as one fraction
    num = room * reference * (r1 - r2) + r1 * r2 * worked
    rule = r2p if room == 0 else r1p
    return _Candidate(num, r1 * reference, int_value(cap_p), rule, used, kind)


def convert_hours_to_cents(hours: int, on: dt.date = CONVERSION_DATE) -> HoursConversion:
    """One-off conversion of the CPF (and DIF) hours stock at 2018-12-31, at 15 € per hour."""
    rate = value_at("cpf.conversion_rate_hours_to_eur", on)
    amount = hours * int_value(rate)
    trace = Trace(rate.id, (rate,), {"hours": hours, "on": on})
    return HoursConversion(hours, amount, trace)


# ------------------------------------------------------------------------------- shared


_STOP_CAUSES = {
    "full_rate_retirement": "full-rate retirement",
    "full_rate_age": "automatic full-rate age reached",
}


def _stop_share(
    year: int, num: int, den: int, rule: ParamValue, status: PersonYearStatus
) -> tuple[int, int, str, tuple[ParamValue, ...]]:
    """Scale a credit by the share of the year before the CPF stops being credited (CT L6323-3
    al. 3: full-rate retirement or the automatic full-rate age); also the parameters used."""
    stop = cpf_credit_stop(status.birth_date, status.full_rate_retirement_on)
    if stop is None or stop.on.year > year:
        return num, den, "", ()
    used = (rule,) if stop.rule is None else (stop.rule, rule)
    cause, start = _STOP_CAUSES[stop.reason], dt.date(year, 1, 1)
    if stop.on <= start:
        return 0, 1, f"{cause} on {stop.on.isoformat()}, before the year: not credited", used
    if not rule.value:
        return 0, 1, f"{cause} during the year: not credited (cpa decision)", used
    days = (stop.on - start).days
    year_days = (dt.date(year + 1, 1, 1) - start).days
    note = f"{cause} on {stop.on.isoformat()}: {days}/{year_days} of the year"
    return num * days, den * year_days, note, used


def _facts(
    year: int,
    activities: Sequence[Activity],
    status: PersonYearStatus,
    balance: int,
    chosen_kind: str,
) -> dict[str, Fact]:
    facts: dict[str, Fact] = {
        "year": year,
        "chosen_activity": chosen_kind,
        "statutory_balance_before": balance,
        "low_qualified": status.low_qualified,
        "disability": status.disability,
    }
    if status.full_rate_retirement_on is not None:
        facts["full_rate_retirement_on"] = status.full_rate_retirement_on
    for activity in activities:
        prefix = activity.kind
        if activity.kind == "employee":
            facts[prefix + ".worked_centihours"] = activity.worked_centihours
            facts[prefix + ".reference_centihours"] = activity.reference_centihours
        elif activity.kind == "independent":
            facts[prefix + ".months_active"] = activity.months_active
        else:
            facts[prefix] = True
    return facts


def _nothing(
    year: int, rule: ParamValue, ceiling: int, status: PersonYearStatus, balance: int
) -> CpfAccrual:
    trace = Trace(rule.id, (rule,), _facts(year, (), status, balance, ""), "no activity")
    return CpfAccrual(year, 0, 0, ceiling, False, trace)


def _nothing_hours(
    year: int,
    rule: ParamValue,
    ceiling: int,
    activities: Sequence[Activity],
    status: PersonYearStatus,
    balance: int,
) -> CpfHoursAccrual:
    note = "no activity giving hours this year" if activities else "no activity"
    trace = Trace(rule.id, (rule,), _facts(year, activities, status, balance, ""), note)
    return CpfHoursAccrual(year, 0, 0, ceiling, False, trace)
