"""The catalogue (training actions and sessions) and the dossier, as stored and as shown."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from cpa.text import NO_NUL, Reference
from cpa.trainings.machine import Actor, State

__all__ = [
    "ActionInput",
    "DossierView",
    "NewDossier",
    "NewSession",
    "NewTrainingAction",
    "SessionPatch",
    "TrainingAction",
    "TrainingActionPatch",
    "TrainingPage",
    "TrainingSearch",
    "TrainingSession",
]

PRICE_CENTS_MAX = 10_000_000  # 100,000 €: training_sessions_price_cents_range
SEATS_MAX = 10_000
DURATION_HOURS_MAX = 10_000
DESCRIPTION_LENGTH_MAX = 4_000
BASIS_POINTS_FULL = 10_000  # a completion rate of 100 %

Modality = Literal["on_site", "remote", "mixed"]
ExitReason = Literal["completed", "holder_abandon", "body_interrupt", "force_majeure"]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
CertificationCode = Annotated[str, msgspec.Meta(pattern=r"^(RNCP|RS)[0-9]{1,6}$")]
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_LENGTH_MAX, pattern=NO_NUL)]
Hours = Annotated[int, msgspec.Meta(ge=1, le=DURATION_HOURS_MAX)]
PriceCents = Annotated[int, msgspec.Meta(ge=1, le=PRICE_CENTS_MAX)]
Seats = Annotated[int, msgspec.Meta(ge=1, le=SEATS_MAX)]
BasisPoints = Annotated[int, msgspec.Meta(ge=0, le=BASIS_POINTS_FULL)]


class NewTrainingAction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: Title
    certification_code: CertificationCode
    """RNCP or RS code of the certification it leads to (``RNCP35001``, ``RS5063``)."""
    description: Description = ""
    duration_hours: Hours
    modality: Modality
    location: Reference | None = None
    """City or postcode where it takes place (on site or mixed)."""
    prerequisites: bool = False
    """The body checks prerequisites before validating a request."""


class TrainingActionPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: Title | None = None
    description: Description | None = None
    duration_hours: Hours | None = None
    modality: Modality | None = None
    location: Reference | None = None
    prerequisites: bool | None = None


class NewSession(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    starts_on: dt.date
    ends_on: dt.date
    price_cents: PriceCents
    seats: Seats


class SessionPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    price_cents: PriceCents | None = None
    seats: Seats | None = None
    open: bool | None = None
    """False closes the session to new requests (dossiers already open continue)."""


class TrainingSession(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    action_id: UUID
    starts_on: dt.date
    ends_on: dt.date
    price_cents: int
    seats: int
    open: bool


class TrainingAction(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    client_id: str
    """The training body (its client id) that offers it."""
    title: str
    certification_code: str
    description: str
    duration_hours: int
    modality: Modality
    location: str | None
    prerequisites: bool
    closed_at: dt.datetime | None
    sessions: list[TrainingSession] = []


class TrainingSearch(msgspec.Struct, frozen=True, kw_only=True):
    """What a citizen or an advisor looks for; every criterion optional, all must hold."""

    text: str | None = None
    certification_code: str | None = None
    location: str | None = None
    starts_from: dt.date | None = None
    starts_until: dt.date | None = None
    price_cents_max: int | None = None
    after: UUID | None = None
    """The cursor: the last action id of the previous page."""
    limit: int = 20


class TrainingPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TrainingAction]
    next_cursor: UUID | None
    """Pass as ``after`` for the next page; null on the last one."""


# -- dossiers ------------------------------------------------------------------------------


class NewDossier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    session_id: UUID
    job_seeker: bool = False
    """The citizen is a job seeker: no participation forfaitaire (CT L6323-7)."""
    financer_review: bool = False
    """France Travail co-funds the training and must agree (``waitingAcceptation``)."""


class ActionInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What some actions carry: ``validate`` may propose other dates within the session's
    (``starts_on``, ``ends_on``); ``declare_exit`` gives the completion rate."""

    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    completion_basis_points: BasisPoints | None = None
    """Share of the training followed, in basis points (10000 = 100 %)."""
    exit_reason: ExitReason | None = None
    """Why the training ended (§5.2.10): ``completed`` (the default at 100 %), the citizen's
    ``holder_abandon``, the body's ``body_interrupt``, or ``force_majeure``."""


class Dossier(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    person_id: UUID
    session_id: UUID
    action_id: UUID
    client_id: str
    state: State
    price_cents: int
    starts_on: dt.date
    ends_on: dt.date
    financer_review: bool
    job_seeker: bool
    hold_id: UUID | None
    held_cents: int
    copayment_cents: int
    completion_basis_points: int | None
    exit_case: ExitReason | None
    control_opened_at: dt.datetime | None
    accepted_on: dt.date | None
    deadline_on: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


class StateChange(msgspec.Struct, frozen=True, kw_only=True):
    state: State
    action: str
    actor: Actor
    occurred_at: dt.datetime


Leg = Literal["rights_held", "copayment", "rights_released", "rights_debited", "copayment_refunded"]


class Amount(msgspec.Struct, frozen=True, kw_only=True):
    """One amount a step moved (on the ledger, naming the hold) or decided (the co-payment),
    with the rule and policy version that produced it."""

    leg: Leg
    amount_cents: int
    rule_id: str
    policy_version: str
    legal_reference: str
    hold_id: UUID | None
    occurred_at: dt.datetime


class DossierView(msgspec.Struct, frozen=True, kw_only=True):
    """A dossier as its citizen, its training body, a financer or an advisor sees it."""

    id: UUID
    session_id: UUID
    action_id: UUID
    training_body: str
    state: State
    price_cents: int
    starts_on: dt.date
    ends_on: dt.date
    held_cents: int
    copayment_cents: int
    completion_basis_points: int | None
    deadline_on: dt.date | None
    """Last day of the deadline the server enforces in this state (null when none)."""
    allowed_actions: list[str]
    """What the caller may do now (each a ``POST …/actions/{name}``)."""
    history: list[StateChange]
    amounts: list[Amount]
    """The explanation of every euro: the rule, policy version and reference of each amount."""


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """What the citizen's next steps would cost now, before taking them."""

    rights_used_cents: int
    """Rights the acceptance reserves (the price minus the co-payment), or already held."""
    copayment_cents: int
    """What the citizen pays by card (participation forfaitaire and any remainder)."""
    copayment_rule_id: str
    cancellation_case: str | None
    """The policy case a cancellation today falls in (null before acceptance: free)."""
    cancellation_cost_cents: int
    """What a cancellation today would cost in all: rights lost and card payment kept."""
    cancellation_rights_lost_cents: int = 0
    """Of which rights debited for good."""
    policy_version: str | None
