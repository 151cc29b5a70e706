"""Wire Structs of the simulation contract (/work/shared/simulation.md): scenario in, rights out.

Inputs forbid unknown fields; counts are checked non-negative here (msgspec constraints) so the
error names the exact field. Cross-field checks (year range, one item per year and kind…) live in
``service.validate_scenario``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from cpa.rules.c2p import Factor
from cpa.rules.cec import EngagementKind
from cpa.rules.cpf import ActivityKind
from cpa.rules.params import ParamValue

__all__ = [
    "MAX_ITEMS",
    "ActivityItem",
    "C2pRights",
    "CecRights",
    "CpfRights",
    "EngagementItem",
    "ExposureItem",
    "Period",
    "Person",
    "Rights",
    "RightsEntry",
    "Scenario",
]

MAX_ITEMS = 1000  # per list: bounds the work one scenario can ask for
Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Hours = Annotated[int, msgspec.Meta(ge=0)] | Annotated[float, msgspec.Meta(ge=0)]


class Period(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    """Inclusive dates; ``to`` None = still running."""

    from_: dt.date
    to: dt.date | None = None


class Person(msgspec.Struct, forbid_unknown_fields=True):
    birth_date: dt.date
    low_qualified: Annotated[list[Period], msgspec.Meta(max_length=MAX_ITEMS)] = []
    disability: Annotated[list[Period], msgspec.Meta(max_length=MAX_ITEMS)] = []
    full_rate_retirement_on: dt.date | None = None


YEAR_CENTIHOURS_MAX = 8784 * 100
"""Hours in a leap year, in hundredths: no one works more."""
Centihours = Annotated[int, msgspec.Meta(ge=0, le=YEAR_CENTIHOURS_MAX)]


class ActivityItem(msgspec.Struct, forbid_unknown_fields=True):
    """An employee's time is given in hundredths of an hour (``worked_centihours``,
    ``reference_centihours``: integers, the declarations' words and unit); ``worked_hours``
    and ``reference_hours`` (decimal hours, at most 2 decimals) are still read, one of the
    two names per quantity."""

    year: int
    kind: ActivityKind
    worked_centihours: Centihours | None = None
    reference_centihours: Centihours | None = None
    months_active: Annotated[int, msgspec.Meta(ge=0, le=12)] | None = None
    worked_hours: Hours | None = None
    reference_hours: Hours | None = None


class ExposureItem(msgspec.Struct, forbid_unknown_fields=True):
    year: int
    contract_start: dt.date
    contract_end: dt.date
    factors: dict[Factor, Count]


class EngagementItem(msgspec.Struct, forbid_unknown_fields=True):
    year: int
    activity: EngagementKind
    hours: Count | None = None
    hours_in_one_organisation: Count | None = None
    days: Count | None = None
    months: Count | None = None
    years: Count | None = None
    interventions: Count | None = None
    role: Literal["board_member", "volunteer_supervisor"] | None = None


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    as_of: dt.date
    person: Person
    activity: Annotated[list[ActivityItem], msgspec.Meta(max_length=MAX_ITEMS)] = []
    exposures: Annotated[list[ExposureItem], msgspec.Meta(max_length=MAX_ITEMS)] = []
    engagements: Annotated[list[EngagementItem], msgspec.Meta(max_length=MAX_ITEMS)] = []


# ------------------------------------------------------------------------------- output


class RightsEntry(msgspec.Struct, omit_defaults=True):
    """One credited (or refused) amount with its explanation. ``projected``: an amount of the
    year in progress (the year of ``as_of``), not in the balances, which the campaign of the
    next spring is expected to credit by ``credit_expected_on``."""

    kind: Literal["accrual", "conversion"]
    rule_id: str
    legal_reference: str
    parameter_effective_from: dt.date
    capped: bool
    year: int | None = None
    date: dt.date | None = None
    amount_cents: int | None = None
    gross_cents: int | None = None
    ceiling_cents: int | None = None
    hours: int | None = None
    gross_hours: int | None = None
    ceiling_hours: int | None = None
    points: int | None = None
    gross_points: int | None = None
    note: str = ""
    projected: bool = False
    credit_expected_on: dt.date | None = None
    parameters: list[ParamValue] = []
    # Values are Facts (int, bool, str, date or null); Any for the spec, which cannot describe a
    # union of two string-like types (str and date).
    facts: dict[str, Any] = {}


class CpfRights(msgspec.Struct):
    balance_cents: int
    entries: list[RightsEntry]
    hours_balance: int = 0  # 2015–2018 hours not yet converted: 0 once as_of >= 2019-01-01


class CecRights(msgspec.Struct):
    balance_cents: int
    entries: list[RightsEntry]
    hours_balance: int = 0  # 2017–2018 CEC hours not yet converted: 0 once as_of >= 2019-01-01


class C2pRights(msgspec.Struct):
    points: int
    points_reserved_for_training: int
    entries: list[RightsEntry]


class Rights(msgspec.Struct):
    as_of: dt.date
    cpf: CpfRights
    cec: CecRights
    c2p: C2pRights
