"""Dated legal parameters, loaded once from the packaged TOML files and looked up by date.

Each file (``cpf.toml``, ``cec.toml``, ``c2p.toml``, ``copayment.toml``, ``trainings.toml``,
``cancellation.toml``) lists parameters in the spirit of OpenFisca: an ``id``, a ``unit``, a
``description`` and ``values``, each valid from its ``from`` date until the next one; a row with
``stop = true`` ends the parameter. Every row carries its legal reference and evidence tag.
Loading is strict: any mistake raises ``ParameterFileError`` at import, so a service with a broken
file refuses to start.

Where the texts are silent, the value is a cpa decision, and its reference says so with
``decision``: either the name of a decision of domain.md §6b (``"domain.md §6b OQ-12"``) or the
decision itself with its reasoning. A reference tagged as a cpa decision (``cpa decision``,
``cpa choice`` or an open question ``OQ-n`` in its text or note) without one is refused, and so
is a §6b name §6b does not decide. cpa/rules/decisions.md lists the decisions stated here.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Mapping
from importlib import resources
from itertools import pairwise
from typing import Literal, TypeVar

import msgspec

__all__ = [
    "DECISION_MIN_WORDS",
    "DOMAIN_DECISIONS",
    "PARAMETERS",
    "UNITS",
    "CecActivityDoc",
    "FactorDoc",
    "ParamValue",
    "ParameterDoc",
    "ParameterFile",
    "ParameterFileError",
    "ParameterNotInForce",
    "ParameterSet",
    "Reference",
    "Threshold",
    "ValueRow",
    "date_value",
    "first_value",
    "int_value",
    "load_parameters",
    "names_value",
    "packaged_parameters",
    "value_at",
    "value_or_none",
]

# A value is a scalar, or a list of names (an order, e.g. cpf.debit.order).
ParamScalar = int | bool | dt.date | tuple[str, ...]

# Unit → Python type of the value. An unknown unit is refused, so a typo cannot slip through.
UNITS: Mapping[str, type] = {
    "activities": tuple,  # names of CEC activities (kinds of the [[activity]] tables)
    "boolean": bool,
    "date": dt.date,
    "basis_points": int,
    "centihours": int,
    "cents": int,
    "cents_per_hour": int,
    "cents_per_year": int,
    "days": int,
    "due_rule": tuple,  # one name: how a cancellation case sets the amount due (cancellation.py)
    "hours": int,
    "hours_per_year": int,
    "interventions": int,
    "months": int,
    "multiplier": int,
    "nights": int,
    "occurrences": int,
    "points": int,
    "quarters": int,
    "requests": int,
    "smic_hours": int,
    "sources": tuple,  # names in order
    "working_days": int,  # Monday to Friday except public holidays (workdays.py)
    "years": int,
}

_T = TypeVar("_T")

# The decisions domain.md §6b takes (open questions it settles, and its rounding rule): a
# reference may rest on one of them, by name, instead of stating its own.
DOMAIN_DECISIONS = frozenset(
    {"OQ-1", "OQ-2", "OQ-3", "OQ-5", "OQ-7", "OQ-10", "OQ-11", "OQ-12", "Rounding"}
)
# A decision stated in a parameter file gives its reasoning: a label is too short to.
DECISION_MIN_WORDS = 12
_DOMAIN_DECISION = re.compile(r"^domain\.md §6b (?P<name>[^ ]+)(?: \([^)]*\))?$")
_DECISION_TAG = re.compile(r"cpa (?:decision|choice)|\bOQ-\d+", re.IGNORECASE)

PACKAGED_FILES = (
    "cpf.toml",
    "cec.toml",
    "c2p.toml",
    "copayment.toml",
    "trainings.toml",
    "cancellation.toml",
)


class ParameterFileError(Exception):
    """A parameter file is malformed: the service must not start (not a CpaError)."""


class ParameterNotInForce(LookupError):
    """A rule asked for a parameter on a date outside its life (a bug in the caller)."""


class Reference(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where a value comes from: the article, the text that set it, and how sure we are."""

    article: str
    text: str
    evidence: Literal["V", "V3", "R", "D"]
    url: str = ""
    # A cpa decision: "domain.md §6b OQ-n" (a decision of domain.md §6b), or the decision
    # itself with its reasoning where the texts and §6b are silent (checked at load).
    decision: str = ""
    note: str = ""


class ValueRow(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    from_: dt.date
    reference: Reference
    value: ParamScalar | None = None
    stop: bool = False


class ParameterDoc(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    unit: str
    description: str
    values: list[ValueRow]


class Threshold(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    measure: Literal[
        "hours", "hours_in_one_organisation", "days", "months", "years", "interventions"
    ]
    parameter: str


class CecActivityDoc(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One of the twelve qualifying activities of CT D5151-14."""

    kind: str
    label: str
    assessment_period: Literal[
        "calendar_year", "two_calendar_years", "end_of_commitment", "commitment_signed"
    ]
    reference: Reference
    thresholds: list[Threshold]
    roles: list[str] = []


class FactorDoc(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A criterion of a C2P hardship factor: its threshold parameter (whose life is the
    criterion's life). Most factors have one criterion, named like the factor; noise has two
    (D4163-2 2° c), each naming ``factor = "noise"``: meeting either or both is one exposure."""

    kind: str
    label: str
    threshold: str
    transition: str = ""  # 2023 threshold for contracts straddling 2023-09-01
    factor: str = ""  # the legal factor this criterion measures; "" = the factor named kind

    @property
    def legal_factor(self) -> str:
        return self.factor or self.kind


class ParameterFile(msgspec.Struct, forbid_unknown_fields=True):
    account: Literal["cpf", "cec", "c2p", "copayment", "trainings", "cancellation"]
    parameter: list[ParameterDoc]
    activity: list[CecActivityDoc] = []
    factor: list[FactorDoc] = []


class ParamValue(msgspec.Struct, frozen=True, gc=False):
    """One value of a parameter, shared by every trace that cites it (built once at load)."""

    id: str
    unit: str
    value: ParamScalar
    effective_from: dt.date
    effective_until: dt.date | None  # exclusive; None while in force
    reference: Reference


class _Series:
    """Sorted start dates and the value starting at each (None after a stop row)."""

    __slots__ = ("doc", "starts", "values")

    def __init__(self, doc: ParameterDoc, starts: list[dt.date], values: list[ParamValue | None]):
        self.doc = doc
        self.starts = starts
        self.values = values

    def at(self, on: dt.date) -> ParamValue | None:
        index = bisect_right(self.starts, on) - 1
        return self.values[index] if index >= 0 else None


class ParameterSet:
    """Every parameter of every file, the CEC activities and the C2P factors, indexed."""

    def __init__(
        self,
        series: dict[str, _Series],
        activities: dict[str, CecActivityDoc],
        factors: dict[str, FactorDoc],
    ) -> None:
        self.series = series
        self.activities = activities
        self.factors = factors

    def ids(self) -> list[str]:
        return sorted(self.series)

    def doc(self, param_id: str) -> ParameterDoc:
        return self._series(param_id).doc

    def value_or_none(self, param_id: str, on: dt.date) -> ParamValue | None:
        """The value in force on ``on``, or None before the first row or after a stop."""
        return self._series(param_id).at(on)

    def value_at(self, param_id: str, on: dt.date) -> ParamValue:
        found = self._series(param_id).at(on)
        if found is None:
            raise ParameterNotInForce(f"{param_id} is not in force on {on.isoformat()}")
        return found

    def _series(self, param_id: str) -> _Series:
        try:
            return self.series[param_id]
        except KeyError:
            raise ParameterNotInForce(f"unknown parameter {param_id}") from None


def load_parameters(documents: Mapping[str, bytes]) -> ParameterSet:
    """Decode and check TOML documents (name → bytes); raise ParameterFileError on any defect."""
    series: dict[str, _Series] = {}
    activities: dict[str, CecActivityDoc] = {}
    factors: dict[str, FactorDoc] = {}
    for name, raw in documents.items():
        parsed = _decode(name, raw)
        for activity in parsed.activity:
            _check_decision(f"{name}: activity {activity.kind}", activity.reference)
        for doc in parsed.parameter:
            if doc.id in series:
                raise ParameterFileError(f"{name}: parameter {doc.id} defined twice")
            series[doc.id] = _build_series(name, doc)
        _add_unique(name, activities, {a.kind: a for a in parsed.activity}, "activity")
        _add_unique(name, factors, {f.kind: f for f in parsed.factor}, "factor")
    _check_links(series, activities, factors)
    return ParameterSet(series, activities, factors)


def _decode(name: str, raw: bytes) -> ParameterFile:
    try:
        return msgspec.toml.decode(raw, type=ParameterFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ParameterFileError(f"{name}: {exc}") from exc


def _build_series(name: str, doc: ParameterDoc) -> _Series:
    where = f"{name}: {doc.id}"
    expected = UNITS.get(doc.unit)
    if expected is None:
        raise ParameterFileError(f"{where}: unknown unit {doc.unit!r}")
    if not doc.values:
        raise ParameterFileError(f"{where}: no values")
    if doc.values[0].stop:
        raise ParameterFileError(f"{where}: first row cannot be a stop")
    starts = [row.from_ for row in doc.values]
    if any(later <= earlier for earlier, later in pairwise(starts)):
        raise ParameterFileError(f"{where}: dates must be strictly increasing")
    ends: list[dt.date | None] = [*starts[1:], None]
    values = [
        _row_value(where, doc, expected, row, end)
        for row, end in zip(doc.values, ends, strict=True)
    ]
    return _Series(doc, starts, values)


def _row_value(
    where: str, doc: ParameterDoc, expected: type, row: ValueRow, end: dt.date | None
) -> ParamValue | None:
    _check_decision(f"{where}: row {row.from_}", row.reference)
    if row.stop:
        if row.value is not None:
            raise ParameterFileError(f"{where}: row {row.from_} has both a value and stop")
        return None
    # bool is a subclass of int: compare exact types so `true` is refused for a cents unit.
    if row.value is None or type(row.value) is not expected:
        raise ParameterFileError(f"{where}: row {row.from_} needs a {expected.__name__} value")
    if isinstance(row.value, int) and not isinstance(row.value, bool) and row.value < 0:
        raise ParameterFileError(f"{where}: row {row.from_} is negative")
    return ParamValue(doc.id, doc.unit, row.value, row.from_, end, row.reference)


def _check_decision(where: str, reference: Reference) -> None:
    """A cpa decision names a decision of domain.md §6b or states its own, with its reasoning."""
    if not reference.decision:
        tag = _DECISION_TAG.search(f"{reference.text} {reference.note}")
        if tag:
            raise ParameterFileError(f"{where}: tagged '{tag[0]}' without a decision")
        return
    named = _DOMAIN_DECISION.match(reference.decision)
    if named and named["name"] not in DOMAIN_DECISIONS:
        raise ParameterFileError(f"{where}: domain.md §6b has no decision {named['name']}")
    if not named and len(reference.decision.split()) < DECISION_MIN_WORDS:
        raise ParameterFileError(
            f"{where}: a decision names one of domain.md §6b or states its reasoning"
            f" (at least {DECISION_MIN_WORDS} words)"
        )


def _add_unique(name: str, into: dict[str, _T], new: dict[str, _T], what: str) -> None:
    for kind, item in new.items():
        if kind in into:
            raise ParameterFileError(f"{name}: {what} {kind} defined twice")
        into[kind] = item


def _check_links(
    series: dict[str, _Series],
    activities: dict[str, CecActivityDoc],
    factors: dict[str, FactorDoc],
) -> None:
    linked = [t.parameter for a in activities.values() for t in a.thresholds]
    linked += [f.threshold for f in factors.values()]
    linked += [f.transition for f in factors.values() if f.transition]
    for param_id in linked:
        if param_id not in series:
            raise ParameterFileError(f"link to unknown parameter {param_id}")
    for param_id, one in series.items():
        if one.doc.unit == "activities":
            _check_activity_list(param_id, one, series, activities)


def _check_activity_list(
    param_id: str, one: _Series, series: dict[str, _Series], activities: dict[str, CecActivityDoc]
) -> None:
    """Each activity a list names exists and has its thresholds in force from the list's date."""
    for value in filter(None, one.values):
        assert isinstance(value.value, tuple)  # the unit's type, checked by _row_value
        for kind in value.value:
            if kind not in activities:
                raise ParameterFileError(f"{param_id}: unknown activity {kind}")
            on = value.effective_from
            late = [
                t.parameter for t in activities[kind].thresholds if not series[t.parameter].at(on)
            ]
            if late:
                raise ParameterFileError(f"{param_id}: {kind} counted on {on} before {late}")


def packaged_parameters() -> ParameterSet:
    """Load the TOML files shipped inside this package (done once, at import)."""
    folder = resources.files(__package__ or "cpa.rules")
    return load_parameters({name: folder.joinpath(name).read_bytes() for name in PACKAGED_FILES})


PARAMETERS = packaged_parameters()


def value_at(param_id: str, on: dt.date) -> ParamValue:
    """The value in force on ``on`` (with its effective date and reference); raise if none."""
    return PARAMETERS.value_at(param_id, on)


def value_or_none(param_id: str, on: dt.date) -> ParamValue | None:
    return PARAMETERS.value_or_none(param_id, on)


def first_value(param_id: str) -> ParamValue:
    """The first value a parameter ever had (a date the law starts from, for instance)."""
    return PARAMETERS.value_at(param_id, PARAMETERS.series[param_id].starts[0])


def int_value(param: ParamValue) -> int:
    """The integer value of a count/money parameter (the loader checked the unit's type)."""
    value = param.value
    assert isinstance(value, int) and not isinstance(value, bool), param.id
    return value


def names_value(param: ParamValue) -> tuple[str, ...]:
    """The names of a list parameter (an order), in order."""
    assert isinstance(param.value, tuple), param.id
    return param.value


def date_value(param: ParamValue) -> dt.date:
    assert isinstance(param.value, dt.date), param.id
    return param.value
