"""Declaration lines (wire and stored form) and per-line batch results.

Amounts of time are integers in the unit of their name: ``*_centihours`` (hours × 100),
``months_*``, ``days``; C2P factor intensities are in the unit of the factor's threshold.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

import msgspec

from cpa.rules import ActivityKind, EngagementKind, Factor
from cpa.rules.cec import Role
from cpa.text import Reference


class DeclaredActivity(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One category of activity in the year (hours summed over employers)."""

    kind: ActivityKind
    worked_centihours: int = 0
    reference_centihours: int = 0  # 0: the legal reference time (1,607 h)
    months_active: int = 0


class PersonLine(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Whose declaration a line is, by exactly one of: ``nir``, what an operator knows of the
    person (DSN, MSA, URSSAF), or cpa's ``person_id`` (the CLI, the campaign, the demo). A NIR
    is looked up when the line is read and never stored: the line is kept with the id."""

    person_id: UUID | None = None
    nir: str | None = None


class ActivityDeclaration(PersonLine, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A person's activity of one year; a new one for the same year is a correction."""

    year: int
    activities: list[DeclaredActivity]
    low_qualified: bool = False
    disability: bool = False


class ExposureDeclaration(PersonLine, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One contract's hardship exposures of one year (DSN block S21.G00.34)."""

    year: int
    contract_ref: Reference
    contract_start: dt.date
    contract_end: dt.date  # inclusive
    factors: dict[Factor, int]


class EngagementDeclaration(PersonLine, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A CEC engagement of one year, as declared (the organisation validates it later)."""

    year: int
    organisation: Reference
    kind: EngagementKind
    # The measures of D5151-14's thresholds; each activity reads its own (cpa.rules.cec).
    hours: int = 0
    """Hours in the year, all organisations (volunteering, réserve civique: 200 h)."""
    hours_in_one_organisation: int = 0
    """Of those, the most in one organisation (100 h)."""
    days: int = 0
    """Days of activity (réserve militaire: 90; réserve sanitaire: 30; police vacations)."""
    months: int = 0
    """Continuous months (service civique, maître d'apprentissage: 6)."""
    years: int = 0
    """Continuous years of commitment (reserves of defence, communal, police: 3 or 5)."""
    interventions: int = 0
    """Interventions in the year (réserve citoyenne de l'éducation nationale: 25)."""
    role: Role | None = None
    """Volunteering: on the board, or supervising other volunteers."""


class EngagementDecision(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    engagement_id: UUID
    decision: Literal["validated", "refused"]


class LineResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The answer to one line: accepted with its id (and revision), or the problem."""

    index: int
    status: Literal["accepted", "rejected"]
    id: UUID | None = None
    revision: int | None = None
    problem: dict[str, Any] | None = None


class BatchResult(msgspec.Struct, frozen=True, kw_only=True):
    accepted: int
    rejected: int
    lines: list[LineResult]
