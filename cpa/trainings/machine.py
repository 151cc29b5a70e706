"""The dossier's state machine as data: every transition a named action, its actor, the state
it starts from, the state it leads to and the money it moves (domain.md §5.1–5.3).

One table, read by the service (may this actor take this action now?), by every dossier view
(``allowed_actions``), by the periodic job (which deadline each state runs, and what the server
does when it passes) and by the property test's model. The states are EDOF's codes, as
integrators know them (Wedof, activepieces ``wedof.ts``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final, Literal

import msgspec

from cpa.rules.cancellation import Case
from cpa.rules.trainings import (
    body_answer_due,
    day_reached,
    deadline_passed,
    holder_acceptance_due,
    service_done_validated_on,
)

__all__ = [
    "TRANSITIONS",
    "Actor",
    "State",
    "actions_of",
    "allowed_actions",
    "transition",
]

State = Literal[
    "notProcessed",
    "validated",
    "waitingAcceptation",
    "accepted",
    "inTraining",
    "terminated",
    "serviceDoneDeclared",
    "serviceDoneValidated",
    "canceledByAttendee",
    "canceledByAttendeeNotRealized",
    "canceledByOrganism",
    "canceledByFinancer",
    "rejectedWithoutTitulaireSuite",
    "refusedByAttendee",
    "refusedByOrganism",
    "refusedByFinancer",
]
Actor = Literal["citizen", "body", "financer", "server"]
ActionName = Literal[
    "validate",
    "refuse",
    "approve_funding",
    "refuse_funding",
    "accept",
    "decline",
    "cancel",
    "cancel_force_majeure",
    "declare_no_show",
    "declare_entry",
    "declare_exit",
    "open_control",
    "validate_service_done",
    "expire_request",
    "expire_proposal",
]
Money = Literal["none", "hold", "settle"]
"""What the step does to the citizen's rights: nothing, reserve them (a hold of the price minus
the co-payment), or settle the hold by the cancellation policy (post and/or release)."""

Settlement = Case | Literal["classify", "exit"]
"""Which case of the policy (``cpa.rules.cancellation``) settles the hold: ``classify`` lets the
policy decide from the dates (withdrawal, early or late cancellation), ``exit`` is the reason
the body declared with the exit (completed, abandoned, interrupted, force majeure)."""


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    action: ActionName
    actor: Actor
    source: State
    target: State
    money: Money = "none"
    settlement: Settlement | None = None
    review_target: State | None = None
    """Where ``validate`` leads when a financer must agree first (job-seeker co-funding)."""
    via: State | None = None
    """A state entered and left in the same step (exit is declared with service fait, §5.2.8)."""


def _t(
    action: ActionName, actors: str, sources: str, target: State, **more: object
) -> list[Transition]:
    """One row per actor and source state (``actors`` and ``sources``: space-separated)."""
    return [
        Transition(action=action, actor=a, source=s, target=target, **more)  # type: ignore[arg-type]
        for a in actors.split()
        for s in sources.split()
    ]


OPEN_STATES: Final = frozenset(
    {"notProcessed", "validated", "waitingAcceptation", "accepted", "inTraining", "terminated",
     "serviceDoneDeclared"}
)  # fmt: skip
"""States of a request still running: at most ``open_requests_max`` per citizen and action."""

TRANSITIONS: Final[tuple[Transition, ...]] = (
    *_t("validate", "body", "notProcessed", "validated", review_target="waitingAcceptation"),
    *_t("refuse", "body", "notProcessed", "refusedByOrganism"),
    *_t("approve_funding", "financer", "waitingAcceptation", "validated"),
    *_t("refuse_funding", "financer", "waitingAcceptation", "refusedByFinancer"),
    *_t("accept", "citizen", "validated", "accepted", money="hold"),
    *_t("decline", "citizen", "validated", "refusedByAttendee"),
    *_t("cancel", "citizen", "notProcessed validated waitingAcceptation", "canceledByAttendee"),
    *_t("cancel", "citizen", "accepted", "canceledByAttendee", money="settle",
        settlement="classify"),
    *_t("cancel_force_majeure", "citizen", "accepted", "canceledByAttendee", money="settle",
        settlement="force_majeure"),
    *_t("cancel", "body", "validated waitingAcceptation", "canceledByOrganism"),
    *_t("cancel", "body", "accepted", "canceledByOrganism", money="settle",
        settlement="body_cancel"),
    *_t("cancel", "financer", "notProcessed validated waitingAcceptation", "canceledByFinancer"),
    *_t("cancel", "financer", "accepted", "canceledByFinancer", money="settle",
        settlement="financer_cancel"),
    *_t("declare_no_show", "body", "accepted", "canceledByAttendeeNotRealized", money="settle",
        settlement="no_show"),
    *_t("declare_entry", "body", "accepted", "inTraining"),
    *_t("declare_exit", "body", "inTraining", "serviceDoneDeclared", via="terminated"),
    *_t("open_control", "financer", "serviceDoneDeclared", "serviceDoneDeclared"),
    *_t("validate_service_done", "financer server", "serviceDoneDeclared",
        "serviceDoneValidated", money="settle", settlement="exit"),
    *_t("expire_request", "server", "notProcessed", "canceledByOrganism"),
    *_t("expire_proposal", "server", "validated", "rejectedWithoutTitulaireSuite"),
)  # fmt: skip


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """A deadline a state runs (§5.2, decision OQ-7), all computed by ``cpa.rules.trainings``:
    its day from the day the state was entered, whether that day is reached today, and the
    server's action then."""

    due: Callable[[dt.date], dt.date]
    reached: Callable[[dt.date, dt.date], bool]
    """(today, the deadline's day) → the server acts now."""
    action: ActionName


def _passed(today: dt.date, due: dt.date) -> bool:
    return deadline_passed(today=today, due=due)


def _reached(today: dt.date, day: dt.date) -> bool:
    return day_reached(today=today, day=day)


DEADLINES: Final[dict[str, Deadline]] = {
    # no answer from the body within 2 working days: the request is cancelled
    "notProcessed": Deadline(due=body_answer_due, reached=_passed, action="expire_request"),
    # the citizen did not accept within 4 working days: rejectedWithoutTitulaireSuite
    "validated": Deadline(due=holder_acceptance_due, reached=_passed, action="expire_proposal"),
    # validated on the 5th working day after the declaration, unless a control is open
    "serviceDoneDeclared": Deadline(due=service_done_validated_on, reached=_reached,
                                    action="validate_service_done"),
}  # fmt: skip

_BY_KEY: Final = {(t.action, t.actor, t.source): t for t in TRANSITIONS}


def transition(action: str, actor: Actor, source: str) -> Transition | None:
    """The transition ``actor`` takes with ``action`` from ``source``, or None if not allowed."""
    return _BY_KEY.get((action, actor, source))  # type: ignore[arg-type]


def allowed_actions(state: str, actor: Actor) -> list[str]:
    """The actions ``actor`` may take from ``state``, in the table's order, each once."""
    names = [t.action for t in TRANSITIONS if t.source == state and t.actor == actor]
    return list(dict.fromkeys(names))


def actions_of(actor: Actor) -> list[str]:
    """Every action ``actor`` may take in some state, in the table's order, each once."""
    return list(dict.fromkeys(t.action for t in TRANSITIONS if t.actor == actor))


def is_terminal(state: str) -> bool:
    return not any(t.source == state for t in TRANSITIONS)
