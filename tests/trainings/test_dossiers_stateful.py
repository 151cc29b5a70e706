"""Dossiers driven by random actions of every actor and by the clock, against an in-memory
model of §5.1 written here on its own (hypothesis, stateful): no action the model refuses is
ever accepted, and none it allows is refused; every dossier that ends has its hold settled
exactly as the policy says (held = posted + released, to the cent); the ledger verifies and
the citizen's available balance never goes below zero."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cpa.db.pool import _init_connection
from cpa.ledger import InsufficientRights, get_account, verify_ledger
from cpa.rules.cancellation import classify_holder_cancel, settle
from cpa.rules.copayment import CopaymentSituation, copayment
from cpa.rules.trainings import (
    body_answer_due,
    day_reached,
    deadline_passed,
    holder_acceptance_due,
    service_done_validated_on,
    start_allowed,
)
from cpa.trainings import (
    ActionInput,
    ControlOpen,
    NewDossier,
    StartTooEarly,
    TooManyOpenRequests,
    TransitionNotAllowed,
    act,
    apply_deadlines,
    request_dossier,
)
from tests.trainings.support import RIGHTS_CENTS, Setting, setting

T = TypeVar("T")
PRICE = 120_000
DOSSIERS_MAX = 8  # per example: the steps go to moving them, not to opening more
START = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
SESSION_STARTS_ON = dt.date(2026, 4, 20)
OPEN = {"notProcessed", "validated", "waitingAcceptation", "accepted", "inTraining",
        "serviceDoneDeclared"}  # fmt: skip

# The model's own table of §5.1: (actor, action) → {from: to}.
MODEL: dict[tuple[str, str], dict[str, str]] = {
    ("citizen", "accept"): {"validated": "accepted"},
    ("citizen", "decline"): {"validated": "refusedByAttendee"},
    ("citizen", "cancel"): dict.fromkeys(
        ("notProcessed", "validated", "waitingAcceptation", "accepted"), "canceledByAttendee"
    ),
    ("citizen", "cancel_force_majeure"): {"accepted": "canceledByAttendee"},
    ("body", "validate"): {"notProcessed": "validated"},
    ("body", "refuse"): {"notProcessed": "refusedByOrganism"},
    ("body", "cancel"): dict.fromkeys(
        ("validated", "waitingAcceptation", "accepted"), "canceledByOrganism"
    ),
    ("body", "declare_no_show"): {"accepted": "canceledByAttendeeNotRealized"},
    ("body", "declare_entry"): {"accepted": "inTraining"},
    ("body", "declare_exit"): {"inTraining": "serviceDoneDeclared"},
    ("financer", "approve_funding"): {"waitingAcceptation": "validated"},
    ("financer", "refuse_funding"): {"waitingAcceptation": "refusedByFinancer"},
    ("financer", "cancel"): dict.fromkeys(
        ("notProcessed", "validated", "waitingAcceptation", "accepted"), "canceledByFinancer"
    ),
    ("financer", "open_control"): {"serviceDoneDeclared": "serviceDoneDeclared"},
    ("financer", "validate_service_done"): {"serviceDoneDeclared": "serviceDoneValidated"},
}
FORWARD = {
    "notProcessed": ("body", "validate"),
    "waitingAcceptation": ("financer", "approve_funding"),
    "validated": ("citizen", "accept"),
    "accepted": ("body", "declare_entry"),
    "inTraining": ("body", "declare_exit"),
    "serviceDoneDeclared": ("financer", "validate_service_done"),
}
ACTIONS = sorted({action for _, action in MODEL} | {"expire_request", "frobnicate"})
# The policy's case of each settling step (the citizen's cancellation: by its dates).
CASES = {
    ("citizen", "cancel_force_majeure"): "force_majeure",
    ("body", "cancel"): "body_cancel",
    ("body", "declare_no_show"): "no_show",
    ("financer", "cancel"): "financer_cancel",
}


@dataclass
class Model:
    state: str
    review: bool
    entered_on: dt.date
    accepted_on: dt.date | None = None
    held: int = 0
    completion: int = 0
    reason: str = "completed"
    control: bool = False
    expected_posted: int | None = None


class DossiersMachine(RuleBasedStateMachine):
    dsn = ""
    dossiers = Bundle("dossiers")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db: asyncpg.Connection = self.run(asyncpg.connect(self.dsn))
        self.run(_init_connection(self.db))
        self.now = START
        self.s: Setting = self.run(
            setting(self.db, starts_on=SESSION_STARTS_ON, price_cents=PRICE, now=self.now)
        )
        self.model: dict[UUID, Model] = {}
        self.posted = 0

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        self.run(self.db.close())
        self.loop.close()

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def available(self) -> int:
        return (
            RIGHTS_CENTS - self.posted - sum(m.held for m in self.model.values() if m.state in OPEN)
        )

    async def _atomic(self, work: Awaitable[Any]) -> Any:
        async with self.db.transaction():
            return await work

    @precondition(lambda self: len(self.model) < DOSSIERS_MAX)
    @rule(target=dossiers, review=st.booleans())
    def request(self, review: bool) -> UUID | None:
        new = NewDossier(session_id=self.s.session_id, financer_review=review)
        open_now = sum(m.state in OPEN for m in self.model.values())
        try:
            view = self.run(
                self._atomic(request_dossier(self.db, self.s.citizen, new, now=self.now))
            )
        except TooManyOpenRequests:
            assert open_now >= 5
            return None
        assert open_now < 5
        self.model[view.id] = Model(state="notProcessed", review=review, entered_on=self.today)
        return view.id

    @rule(
        dossier=dossiers,
        actor=st.sampled_from(["citizen", "body", "financer"]),
        action=st.sampled_from(ACTIONS),
        completion=st.integers(0, 10_000),
        reason=st.sampled_from(["holder_abandon", "body_interrupt", "force_majeure"]),
    )
    def take(self, dossier: UUID | None, actor: str, action: str, completion: int,
             reason: str) -> None:  # fmt: skip
        if dossier is None:
            return
        m = self.model[dossier]
        target = MODEL.get((actor, action), {}).get(m.state)
        exit_reason = "completed" if completion == 10_000 else reason
        given = ActionInput(completion_basis_points=completion, exit_reason=exit_reason)
        party = {"citizen": self.s.citizen, "body": self.s.body, "financer": self.s.financer}[actor]
        try:
            view = self.run(self._atomic(act(self.db, party, dossier, action, given, now=self.now)))
        except TransitionNotAllowed:
            assert target is None, (actor, action, m.state)
            return
        except StartTooEarly:
            assert action == "validate" and not start_allowed(
                proposed_on=self.today, start=SESSION_STARTS_ON
            )
            return
        except ControlOpen:
            assert action == "open_control" and m.control
            return
        except InsufficientRights:
            raise AssertionError("the co-payment takes what the rights do not cover") from None
        assert target is not None, (actor, action, m.state, "accepted though the model refuses")
        if action == "validate" and m.review:
            target = "waitingAcceptation"
        self._moved(m, actor, action, target, completion, exit_reason)
        assert view.state == m.state

    @rule(
        data=st.data(),
        completion=st.integers(0, 10_000),
        reason=st.sampled_from(["holder_abandon", "body_interrupt", "force_majeure"]),
    )
    def progress(self, data: st.DataObject, completion: int, reason: str) -> None:
        """An action the model allows on an open dossier (random ones rarely are): the service
        must take it."""
        # In the order they were made: ids are random, and a replay must draw the same one.
        running = [key for key, m in self.model.items() if m.state in OPEN]
        if not running:
            return
        dossier = data.draw(st.sampled_from(running))
        state = self.model[dossier].state
        allowed = sorted(key for key, moves in MODEL.items() if state in moves)
        forward = data.draw(st.integers(0, 4)) > 0  # mostly along the happy path
        actor, action = FORWARD[state] if forward else data.draw(st.sampled_from(allowed))
        self.take(dossier, actor, action, completion, reason)

    progress_again = progress  # twice the weight of the other rules

    def _moved(self, m: Model, actor: str, action: str, target: str, completion: int,
               reason: str) -> None:  # fmt: skip
        if action == "accept":
            split = copayment(PRICE, self.available(), CopaymentSituation(), self.today)
            m.held, m.accepted_on = split.rights_debit_cents, self.today
        if action == "declare_exit":
            m.completion, m.reason = completion, reason
        if action == "open_control":
            m.control = True
        case = CASES.get((actor, action))
        if action == "cancel" and actor == "citizen" and m.state == "accepted":
            assert m.accepted_on is not None
            case = classify_holder_cancel(today=self.today, start=SESSION_STARTS_ON,
                                          accepted_on=m.accepted_on)  # fmt: skip
        if action == "validate_service_done":
            case = m.reason
        if case is not None and m.accepted_on is not None:
            self._settle(m, case)
        if target != m.state:
            m.state, m.entered_on = target, self.today

    def _settle(self, m: Model, case: Any) -> None:
        assert m.accepted_on is not None
        done = settle(case, price_cents=PRICE, held_cents=m.held,
                      completion_basis_points=m.completion, on=m.accepted_on)  # fmt: skip
        m.expected_posted = done.posted_cents
        self.posted += done.posted_cents

    @rule(days=st.integers(0, 4))
    def advance(self, days: int) -> None:
        self.now += dt.timedelta(days=days)

    @rule()
    def deadlines(self) -> None:
        for m in self.model.values():
            self._server(m)
        self.run(apply_deadlines(self.db, self.now))

    def _server(self, m: Model) -> None:
        today = self.today
        if m.state == "notProcessed" and deadline_passed(
            today=today, due=body_answer_due(m.entered_on)
        ):
            m.state, m.entered_on = "canceledByOrganism", today
        elif m.state == "validated" and deadline_passed(
            today=today, due=holder_acceptance_due(m.entered_on)
        ):
            m.state, m.entered_on = "rejectedWithoutTitulaireSuite", today
        elif (
            m.state == "serviceDoneDeclared"
            and not m.control
            and day_reached(today=today, day=service_done_validated_on(m.entered_on))
        ):
            self._settle(m, m.reason)
            m.state, m.entered_on = "serviceDoneValidated", today

    @invariant()
    def states_match_the_model(self) -> None:
        rows = self.run(self.db.fetch(
            "select id, state, held_cents from dossiers where id = any($1::uuid[])",
            list(self.model),
        ))  # fmt: skip
        for row in rows:
            m = self.model[row["id"]]
            assert (row["state"], row["held_cents"]) == (m.state, m.held), (row, m)

    @invariant()
    def ended_dossiers_are_settled_by_the_policy(self) -> None:
        for dossier_id, m in self.model.items():
            if m.state in OPEN or m.expected_posted is None:
                continue
            legs = dict(self.run(self.db.fetch(
                "select leg, sum(amount_cents) from dossier_amounts"
                " where dossier_id = $1 group by leg", dossier_id,
            )))  # fmt: skip
            posted, released = legs.get("rights_debited", 0), legs.get("rights_released", 0)
            assert posted == m.expected_posted and posted + released == m.held, (legs, m)

    @invariant()
    def ledger_verifies_and_never_overdraws(self) -> None:
        account = self.run(get_account(self.db, self.s.person_id, ["cpf:read"], now=self.now))
        assert account.cpf is not None
        assert account.cpf.available_cents >= 0
        assert account.cpf.available_cents == self.available()
        assert self.run(verify_ledger(self.db)).ok


@pytest.mark.slow
async def test_dossiers_follow_the_model(fresh_dsn: str) -> None:
    DossiersMachine.dsn = fresh_dsn
    config = settings(
        max_examples=60,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    await asyncio.to_thread(run_state_machine_as_test, DossiersMachine, settings=config)
