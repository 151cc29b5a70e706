"""Simulation: the yearly campaigns of a hypothetical career, run on paper with the same rules.

Credits every year strictly before the year of ``as_of`` (rights for N are credited in spring N+1),
converts the 2015–2018 hour stocks on 2019-01-01 when ``as_of`` is on or after it, and applies the
parameters in force on each date by calling ``cpa.rules`` — never a copy of the law. The year of
``as_of`` is computed the same way but not credited: its entries are marked projected, with the
date its campaign is expected by. Items from before the person could work (``cpa.rules.ages``)
are refused, like years outside 2015..as_of.
Inputs are sorted before computing, so the order of the scenario's lists never changes the result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from cpa.errors import InvalidInput
from cpa.rules.accounts import FIRST_C2P_YEAR, FIRST_CEC_YEAR, FIRST_CPF_YEAR, FIRST_YEAR, LAST_YEAR
from cpa.rules.ages import career_problem, contract_problem
from cpa.rules.c2p import (
    Exposure,
    c2p_points_reserved_remaining,
    factor_threshold,
)
from cpa.rules.cec import Engagement
from cpa.rules.cpf import CONVERSION_DATE, FIRST_EURO_YEAR, Activity, PersonYearStatus
from cpa.rules.params import PARAMETERS
from cpa.rules.trace import Trace
from cpa.rules.yearly import (
    CreditAccount,
    HoursConversion,
    YearCredit,
    YearInputs,
    campaign_date,
    credit_pot,
    hours_conversions,
    year_credits,
)
from cpa.simulation.models import (
    ActivityItem,
    C2pRights,
    CecRights,
    CpfRights,
    EngagementItem,
    ExposureItem,
    Period,
    Rights,
    RightsEntry,
    Scenario,
)

__all__ = [
    "MAX_BODY_BYTES",
    "decode_scenario",
    "simulate",
    "simulate_json",
    "validate_scenario",
]

MAX_BODY_BYTES = 1 << 20
LAST_AS_OF = dt.date(LAST_YEAR, 12, 31)
MAX_YEAR_HOURS = Decimal(8784)  # hours in a leap year: no one works more
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Scenario)
_PATH = re.compile(r" - at `(?P<path>[^`]*)`(?: in `(?P<outer>[^`]*)`)?$")
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")

ErrorList = list[dict[str, str]]
_Bounds = tuple[int, int, dt.date]  # first year, last year (as_of's), the person's birth date
_Item = TypeVar("_Item", ActivityItem, ExposureItem, EngagementItem)


# ------------------------------------------------------------------------------- decoding


def decode_scenario(raw: bytes) -> Scenario:
    """Decode and check a scenario; raise InvalidInput listing every problem found."""
    if len(raw) > MAX_BODY_BYTES:
        raise _invalid([{"field": "$", "message": f"larger than {MAX_BODY_BYTES} bytes"}])
    try:
        scenario = _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise _invalid([_field_error(str(exc))]) from None
    except msgspec.DecodeError as exc:
        raise _invalid([{"field": "$", "message": f"not valid JSON: {exc}"}]) from None
    errors = validate_scenario(scenario)
    if errors:
        raise _invalid(errors)
    return scenario


def _invalid(errors: ErrorList) -> InvalidInput:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(f"{first['field']}: {first['message']}{more}", errors=errors)


def _field_error(message: str) -> dict[str, str]:
    """Turn msgspec's message into {field: JSON path, message: what is wrong}."""
    located = _PATH.search(message)
    text = message[: located.start()] if located else message
    path = "$"
    if located:
        path = located["outer"] or located["path"]
        if located["outer"]:
            text += " (object key)"
    named = _NAMED.search(text)
    if named:
        path = f"{path}.{named['name']}"
    return {"field": path, "message": text}


def validate_scenario(scenario: Scenario) -> ErrorList:
    """Cross-field checks the types cannot express; an empty list means valid."""
    errors: ErrorList = []
    if not dt.date(FIRST_YEAR, 1, 1) <= scenario.as_of <= LAST_AS_OF:
        errors.append({"field": "$.as_of", "message": f"must be in {FIRST_YEAR}..{LAST_YEAR}"})
    last_year = scenario.as_of.year  # the year in progress is valid: projected, not credited
    birth = scenario.person.birth_date
    errors += _check_periods("$.person.low_qualified", scenario.person.low_qualified)
    errors += _check_periods("$.person.disability", scenario.person.disability)
    errors += _check_yearly(
        scenario.activity,
        "$.activity",
        "kind",
        (FIRST_CPF_YEAR, last_year, birth),
        _check_activity_fields,
    )
    errors += _check_exposures(scenario.exposures, last_year, birth)
    errors += _check_yearly(
        scenario.engagements,
        "$.engagements",
        "activity",
        (FIRST_CEC_YEAR, last_year, birth),
        _check_measures,
    )
    return errors


def _check_year(field: str, year: int, last_year: int, first_year: int) -> ErrorList:
    if first_year <= year <= last_year:
        return []
    message = f"{year} is outside {first_year}..{last_year} (up to the year of as_of)"
    return [{"field": field, "message": message}]


def _check_career_year(field: str, year: int, bounds: _Bounds) -> ErrorList:
    """The year in bounds, then in the person's possible career (after birth, old enough)."""
    first_year, last_year, birth = bounds
    errors = _check_year(field, year, last_year, first_year)
    problem = None if errors else career_problem(birth, year)
    return errors if problem is None else [{"field": field, "message": problem.message}]


def _check_periods(field: str, periods: Sequence[Period]) -> ErrorList:
    return [
        {"field": f"{field}[{i}].to", "message": "must not be before from"}
        for i, p in enumerate(periods)
        if p.to is not None and p.to < p.from_
    ]


def _check_yearly(
    items: Sequence[_Item],
    path: str,
    key: str,
    bounds: _Bounds,
    check_fields: Callable[[str, _Item], ErrorList],
) -> ErrorList:
    """Each item of a yearly list: its year in bounds and in the person's career, its ``key``
    once a year, its fields."""
    errors: ErrorList = []
    seen: set[tuple[int, str]] = set()
    for i, item in enumerate(items):
        at = f"{path}[{i}]"
        errors += _check_career_year(f"{at}.year", item.year, bounds)
        value = getattr(item, key)
        if (item.year, value) in seen:
            errors.append({"field": f"{at}.{key}", "message": f"duplicate {value} in {item.year}"})
        seen.add((item.year, value))
        errors += check_fields(at, item)
    return errors


_TIME_NAMES = {"worked_centihours": "worked_hours", "reference_centihours": "reference_hours"}
"""Each employee quantity: its name (hundredths of an hour) and its older name (hours)."""
_KIND_FIELDS = {
    "employee": {*_TIME_NAMES, *_TIME_NAMES.values()},
    "independent": {"months_active"},
}


def _check_activity_fields(at: str, item: ActivityItem) -> ErrorList:
    errors: ErrorList = []
    allowed = _KIND_FIELDS.get(item.kind, set())
    for name in ("months_active", *_TIME_NAMES, *_TIME_NAMES.values()):
        if getattr(item, name) is not None and name not in allowed:
            errors.append({"field": f"{at}.{name}", "message": f"not a field of kind {item.kind}"})
    if item.kind == "independent" and item.months_active is None:
        errors.append({"field": f"{at}.months_active", "message": "required for kind independent"})
    if item.kind == "employee":
        errors += _check_times(at, item)
    return errors


def _check_times(at: str, item: ActivityItem) -> ErrorList:
    """An employee's worked and reference time: each under one of its two names."""
    errors: ErrorList = []
    for centi, hours in _TIME_NAMES.items():
        given_centi, given_hours = getattr(item, centi), getattr(item, hours)
        if given_centi is not None and given_hours is not None:
            errors.append({"field": f"{at}.{hours}", "message": f"give {centi} only"})
        elif centi == "worked_centihours" and given_centi is None and given_hours is None:
            errors.append({"field": f"{at}.{centi}", "message": "required for kind employee"})
        elif given_hours is not None:
            errors += _check_hours(
                f"{at}.{hours}", given_hours, positive=hours == "reference_hours"
            )
        elif centi == "reference_centihours" and given_centi == 0:
            errors.append({"field": f"{at}.{centi}", "message": "must be more than 0"})
    return errors


def _check_hours(field: str, value: int | float, positive: bool) -> ErrorList:
    exact = _decimal(value)
    if exact.as_tuple().exponent < -2:  # type: ignore[operator]
        return [{"field": field, "message": "at most 2 decimals (hundredths of an hour)"}]
    if exact > MAX_YEAR_HOURS or (positive and exact == 0):
        return [{"field": field, "message": f"must be in {'(0' if positive else '[0'}..8784]"}]
    return []


def _check_exposures(items: Sequence[ExposureItem], last_year: int, birth: dt.date) -> ErrorList:
    errors: ErrorList = []
    bounds = (FIRST_C2P_YEAR, last_year, birth)
    for i, item in enumerate(items):
        at = f"$.exposures[{i}]"
        year_errors = _check_career_year(f"{at}.year", item.year, bounds)
        if year_errors:  # no calendar for a year out of range (year 0 is not a date)
            errors += year_errors
            continue
        start = max(item.contract_start, dt.date(item.year, 1, 1))
        end = min(item.contract_end, dt.date(item.year, 12, 31))
        problem = contract_problem(birth, item.contract_start, item.contract_end)
        if item.contract_end < item.contract_start:
            errors.append({"field": f"{at}.contract_end", "message": "before contract_start"})
        elif start > end:
            errors.append({"field": at, "message": f"the contract does not cover {item.year}"})
        elif problem is not None:
            field = "contract_start" if item.contract_start < birth else "contract_end"
            errors.append({"field": f"{at}.{field}", "message": problem.message})
        else:
            errors += _check_factors(at, item, start, end)
    return errors


def _check_factors(at: str, item: ExposureItem, start: dt.date, end: dt.date) -> ErrorList:
    return [
        {"field": f"{at}.factors.{factor}", "message": f"not a C2P factor from {start} to {end}"}
        for factor in item.factors
        if factor_threshold(factor, start, end) is None
    ]


def _check_measures(at: str, item: EngagementItem) -> ErrorList:
    doc = PARAMETERS.activities[item.activity]
    needed = {t.measure for t in doc.thresholds} | ({"role"} if doc.roles else set())
    errors: ErrorList = []
    for name in ("hours", "hours_in_one_organisation", "days", "months", "years", "interventions"):
        given = getattr(item, name) is not None
        if given != (name in needed):
            verb = "not a measure of" if given else "required for"
            errors.append({"field": f"{at}.{name}", "message": f"{verb} {item.activity}"})
    if (item.role is not None) != ("role" in needed):
        verb = "not a measure of" if item.role is not None else "required for"
        errors.append({"field": f"{at}.role", "message": f"{verb} {item.activity}"})
    return errors


# ------------------------------------------------------------------------------- simulation


def simulate_json(raw: bytes) -> bytes:
    """Decode a scenario, simulate it and encode the rights (the CLI and HTTP entry point)."""
    return _ENCODER.encode(simulate(decode_scenario(raw)))


def simulate(scenario: Scenario) -> Rights:
    """The rights the scenario's career produces as of ``scenario.as_of``: the yearly campaign
    (``cpa.rules.yearly``, the one the ledger runs) on a paper ledger."""
    paper = _PaperLedger()
    years = _YearsOf(scenario)
    for year in range(FIRST_YEAR, scenario.as_of.year):
        if year >= FIRST_EURO_YEAR:
            paper.convert()  # the 2019-01-01 conversion, before the first euro year
        inputs = years.inputs(year)
        for credit in year_credits(inputs, paper.ceiling_balances(year)):
            paper.credit(credit)
    if scenario.as_of >= CONVERSION_DATE:
        paper.convert()
    in_progress = scenario.as_of.year  # credited by next spring's campaign: shown, not counted
    for credit in year_credits(years.inputs(in_progress), paper.ceiling_balances(in_progress)):
        paper.project(credit)
    return paper.rights(scenario)


class _YearsOf:
    """A scenario's items by year, as the rules' inputs (sorted: the order given never counts)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.activities = _group(scenario.activity)
        self.engagements = _group(scenario.engagements)
        self.exposures = _group(scenario.exposures)

    def inputs(self, year: int) -> YearInputs:
        activities = sorted((_activity(i) for i in self.activities.get(year, ())), key=_kind)
        engagements = sorted((_engagement(i) for i in self.engagements.get(year, ())), key=_kind)
        exposures = sorted(
            (_exposure(item) for item in self.exposures.get(year, ())),
            key=lambda e: (e.contract_start, e.contract_end, tuple(e.factors.items())),
        )
        return YearInputs(
            year=year,
            birth_date=self.scenario.person.birth_date,
            status=_status(self.scenario, year),
            activities=activities or None,
            engagements=engagements or None,
            exposures=exposures or None,
        )


class _PaperLedger:
    """Balances per pot and entries per account, as the ledger would hold them (no debits)."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = defaultdict(int)
        self.entries: dict[str, list[RightsEntry]] = defaultdict(list)

    def ceiling_balances(self, year: int) -> dict[str, int]:
        accounts: tuple[CreditAccount, ...] = ("cpf", "cec", "c2p")
        return {account: self.balances[credit_pot(account, year)] for account in accounts}

    def credit(self, credit: YearCredit) -> None:
        self.balances[credit.pot] += credit.amount
        self.entries[credit.account].append(_ENTRY_OF_UNIT[credit.unit](credit))

    def project(self, credit: YearCredit) -> None:
        """An entry of the year in progress: what its campaign should credit, not counted."""
        expected_on, parameters = campaign_date(credit.year)
        entry = _ENTRY_OF_UNIT[credit.unit](credit)
        self.entries[credit.account].append(msgspec.structs.replace(
            entry, projected=True, credit_expected_on=expected_on,
            parameters=[*entry.parameters, *parameters],
        ))  # fmt: skip

    def convert(self) -> None:
        cpf_hours, cec_hours = self.balances["cpf_hours"], self.balances["cec_hours"]
        for conversion in hours_conversions(cpf_hours, cec_hours):
            self.balances[conversion.source] -= conversion.hours
            self.balances[conversion.target] += conversion.amount_cents
            account = "cpf" if conversion.target == "cpf_statutory" else "cec"
            self.entries[account].append(_conversion_entry(conversion))

    def rights(self, scenario: Scenario) -> Rights:
        points = self.balances["c2p"]
        birth = scenario.person.birth_date
        reserved = c2p_points_reserved_remaining(birth, scenario.as_of, points, {})  # none used
        return Rights(
            as_of=scenario.as_of,
            cpf=CpfRights(balance_cents=self.balances["cpf_statutory"],
                          entries=self.entries["cpf"], hours_balance=self.balances["cpf_hours"]),
            cec=CecRights(balance_cents=self.balances["cec"], entries=self.entries["cec"],
                          hours_balance=self.balances["cec_hours"]),
            c2p=C2pRights(points=points, points_reserved_for_training=reserved,
                          entries=self.entries["c2p"]),
        )  # fmt: skip


# ------------------------------------------------------------------------------- helpers


def _group(items: Iterable[_Item]) -> dict[int, list[_Item]]:
    grouped: dict[int, list[_Item]] = defaultdict(list)
    for item in items:
        grouped[item.year].append(item)
    return grouped


def _kind(item: Activity | Engagement) -> str:
    return item.kind


def _covers(periods: Sequence[Period], year: int) -> bool:
    """A period covering any day of the year makes the whole year count."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return any(p.from_ <= last and (p.to is None or p.to >= first) for p in periods)


def _status(scenario: Scenario, year: int) -> PersonYearStatus:
    person = scenario.person
    return PersonYearStatus(
        low_qualified=_covers(person.low_qualified, year),
        disability=_covers(person.disability, year),
        full_rate_retirement_on=person.full_rate_retirement_on,
    )


def _decimal(value: int | float) -> Decimal:
    # repr of a float is the shortest text that reads back to it: 642.8 stays 642.8 exactly.
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _centihours(value: int | float | None) -> int:
    return 0 if value is None else int(_decimal(value) * 100)


def _activity(item: ActivityItem) -> Activity:
    worked, reference = item.worked_centihours, item.reference_centihours
    return Activity(
        kind=item.kind,
        worked_centihours=_centihours(item.worked_hours) if worked is None else worked,
        reference_centihours=_centihours(item.reference_hours) if reference is None else reference,
        months_active=item.months_active or 0,
    )


def _engagement(item: EngagementItem) -> Engagement:
    return Engagement(
        kind=item.activity,
        hours=item.hours or 0,
        hours_in_one_organisation=item.hours_in_one_organisation or 0,
        days=item.days or 0,
        months=item.months or 0,
        years=item.years or 0,
        interventions=item.interventions or 0,
        role=item.role,
    )


def _exposure(item: ExposureItem) -> Exposure:
    return Exposure(item.contract_start, item.contract_end, dict(sorted(item.factors.items())))


def _base(trace: Trace, capped: bool) -> dict[str, Any]:
    return {
        "rule_id": trace.rule_id,
        "legal_reference": trace.legal_reference,
        "parameter_effective_from": trace.parameter_effective_from,
        "capped": capped,
        "note": trace.note,
        "parameters": list(trace.parameters),
        "facts": trace.facts,
    }


def _hours_entry(c: YearCredit) -> RightsEntry:
    return RightsEntry(kind="accrual", year=c.year, hours=c.amount, gross_hours=c.gross,
                 ceiling_hours=c.ceiling, **_base(c.trace, c.capped))  # fmt: skip


def _euro_entry(c: YearCredit) -> RightsEntry:
    return RightsEntry(kind="accrual", year=c.year, amount_cents=c.amount, gross_cents=c.gross,
                 ceiling_cents=c.ceiling, **_base(c.trace, c.capped))  # fmt: skip


def _points_entry(c: YearCredit) -> RightsEntry:
    return RightsEntry(kind="accrual", year=c.year, points=c.amount, gross_points=c.gross,
                 **_base(c.trace, c.capped))  # fmt: skip


_ENTRY_OF_UNIT: dict[str, Callable[[YearCredit], RightsEntry]] = {
    "hours": _hours_entry,
    "cents": _euro_entry,
    "points": _points_entry,
}


def _conversion_entry(conversion: HoursConversion) -> RightsEntry:
    return RightsEntry(
        kind="conversion",
        date=CONVERSION_DATE,
        hours=conversion.hours,
        amount_cents=conversion.amount_cents,
        **_base(conversion.trace, False),
    )
