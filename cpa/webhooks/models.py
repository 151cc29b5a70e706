"""Subscriptions and events as a client sees them: never the internal person id, its
pairwise ``sub`` (the one its tokens carry, ``cpa.auth.clients.pairwise_subject``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec

from cpa.auth.clients import pairwise_subject
from cpa.events import StoredEvent

DOSSIER_STATES: Final = (
    "not_processed", "validated", "waiting_acceptation", "accepted", "in_training", "terminated",
    "service_done_declared", "service_done_validated", "canceled_by_attendee",
    "canceled_by_attendee_not_realized", "canceled_by_organism", "canceled_by_financer",
    "rejected_without_titulaire_suite", "refused_by_attendee", "refused_by_organism",
    "refused_by_financer",
)  # fmt: skip
"""The states of domain.md §5.1 (EDOF's camelCase codes), in the outbox's type spelling
(``events_type_named``: lower case and underscores)."""
DOSSIER_STEPS: Final = ("control_opened",)
"""Steps that leave the state as it is (the financer opens a control of the service done)."""
MONEY_MOVEMENTS: Final = ("rights_held", "rights_released", "rights_debited")
EVENT_TYPES: Final[tuple[str, ...]] = tuple(
    f"dossier.{name}" for name in (*DOSSIER_STATES, *DOSSIER_STEPS, *MONEY_MOVEMENTS)
)
"""The event types a subscription may ask for: a dossier entering each state, a control
opened on it, and each movement of the citizen's rights it causes (cpa.trainings writes them)."""

SUBSCRIPTIONS_PER_CLIENT_MAX = 20
URL_LENGTH_MAX = 2_000
SECRET_LENGTH_MAX = 100
"""``whsec_`` and the base64 of at most 64 bytes."""

Status = Literal["enabled", "disabled"]


class EventView(msgspec.Struct, frozen=True, kw_only=True):
    """One event as ``GET /v1/events`` lists it and a webhook delivers it (the same body)."""

    cursor: str
    """Where to resume after this event: ``GET /v1/events?after=<cursor>``."""
    type: str
    subject_id: UUID
    """The dossier (or other subject) the event is about."""
    sequence: int
    """The event's position in its subject's history (1, 2, …): no gap, no repeat."""
    sub: str
    """The person concerned, as this client knows them (its pairwise subject)."""
    occurred_at: dt.datetime
    data: dict[str, Any]


def event_view(event: StoredEvent, pairwise_salt: bytes) -> EventView:
    """``event`` as the client whose pairwise salt is given sees it."""
    return EventView(
        cursor=event.cursor,
        type=event.type,
        subject_id=event.subject_id,
        sequence=event.subject_seq,
        sub=pairwise_subject(pairwise_salt, event.person_id),
        occurred_at=event.occurred_at,
        data=event.data,
    )


class NewSubscription(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(max_length=URL_LENGTH_MAX)]
    """Where events are POSTed: an https URL (http only on loopback), no fragment."""
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
    """The event types wanted, each from the known list (``dossier.accepted``, …)."""
    secret: Annotated[str, msgspec.Meta(max_length=SECRET_LENGTH_MAX)] | None = None
    """A Standard Webhooks secret (``whsec_…``) to sign with; generated when left out."""


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription and how its deliveries go."""

    id: UUID
    url: str
    events: list[str]
    status: Status
    """``disabled`` once a delivery failed ``CPA_WEBHOOK_FAILURES_MAX`` times in a row with none
    accepted meanwhile: nothing more is sent (``GET /v1/events`` replays what was missed)."""
    failures_consecutive: int
    """Failed attempts since the last delivery the endpoint accepted."""
    last_error: str | None
    last_error_at: dt.datetime | None
    last_delivered_at: dt.datetime | None
    disabled_at: dt.datetime | None
    created_at: dt.datetime
    deliveries_pending: int
    """Events not yet accepted by the endpoint."""


class CreatedSubscription(Subscription, frozen=True, kw_only=True):
    secret: str
    """The signing secret, shown this once only."""
