"""Dossiers: a citizen's request on a session, moved by its actors through the state machine
(``cpa.trainings.machine``), with the money of each step (``cpa.trainings.money``).

Every step is one transaction that takes the dossier's event lock first (``lock_subject``,
before any write, so its events follow its history), loads the dossier, asks the table
whether this actor may take this action now, journals the access in the citizen's access
log, writes the new state with its history line, the amounts and the events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

import msgspec
import structlog

from cpa.auth.access_log import record_access
from cpa.auth.principal import Principal
from cpa.db.constraints import domain_errors
from cpa.db.database import Connection, Database
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.events import lock_subject, record_event
from cpa.provenance import SYSTEM, Provenance
from cpa.rules.trainings import (
    deadlines_on,
    earliest_start,
    open_request_allowed,
    start_allowed,
)
from cpa.trainings import money
from cpa.trainings.errors import (
    ControlOpen,
    DossierNotFound,
    InvalidTrainingInput,
    SessionClosed,
    StartTooEarly,
    TooManyOpenRequests,
    TrainingSessionNotFound,
    TransitionNotAllowed,
)
from cpa.trainings.machine import (
    DEADLINES,
    OPEN_STATES,
    Actor,
    State,
    Transition,
    allowed_actions,
    transition,
)
from cpa.trainings.models import (
    BASIS_POINTS_FULL,
    ActionInput,
    Amount,
    Dossier,
    DossierView,
    NewDossier,
    StateChange,
)

__all__ = [
    "DEADLINE_INTERVAL_S",
    "Party",
    "act",
    "apply_deadlines",
    "list_dossiers",
    "load_for",
    "request_dossier",
    "sweep_deadlines",
    "view",
]

log = structlog.get_logger(__name__)

DOSSIERS_LISTED_MAX = 100
DUE_BATCH_MAX = 500
DEADLINE_BATCHES_MAX = 20
"""A pass moves at most 10,000 dossiers; the next pass takes the rest."""
SERVER = Principal(
    client_id=SYSTEM.client_id or "cpa", client_kind="operator", scopes=frozenset(), jti="",
    sub="cpa", client_name="cpa (délais)",
)  # fmt: skip
"""Who the server's own moves are journaled as (a deadline passed)."""


class Party(msgspec.Struct, frozen=True, kw_only=True):
    """Who takes a step: the actor of the table, the verified token (the server's own for a
    deadline), the route journaled and the request's idempotency key."""

    actor: Actor
    principal: Principal
    route: str
    idempotency_key: str | None = None

    def provenance(self) -> Provenance:
        """The ledger writes of a dossier are the service's own (the hold belongs to no
        partner: only the dossier's steps move it), made with this actor's token."""
        return Provenance(
            client_id=SYSTEM.client_id,
            token_jti=self.principal.jti or None,
            idempotency_key=self.idempotency_key,
        )


async def request_dossier(
    db: Connection, party: Party, new: NewDossier, *, now: dt.datetime
) -> DossierView:
    """The citizen asks for a session: ``notProcessed``, the body's answer deadline running."""
    person_id = party.principal.person_id
    assert person_id is not None and party.actor == "citizen", "a citizen's own request"
    dossier_id = uuid4()
    await lock_subject(db, dossier_id)
    await db.execute(sql("lock_person_dossiers"), person_id)
    session = await db.fetchrow(
        sql("get_session_for_request"), new.session_id, person_id, _OPEN_STATES
    )
    if session is None:
        raise TrainingSessionNotFound()
    if not session["open"] or session["closed_at"] is not None:
        raise SessionClosed()
    _check_open_requests(session["open_count"], now.date())
    await record_access(db, party.principal, route=party.route, action="change")
    with domain_errors():
        row = await db.fetchrow(
            sql("insert_dossier"), dossier_id, person_id, session["id"], session["action_id"],
            session["client_id"], session["price_cents"], session["starts_on"],
            session["ends_on"], new.financer_review, new.job_seeker,
            _deadline("notProcessed", now.date()), now, party.principal.client_id,
        )  # fmt: skip
    assert row is not None, "an insert returns its row"
    dossier = from_row(Dossier, row)
    await _event(db, dossier, "notProcessed", {"action": "request", "actor": "citizen"}, now)
    return await view(db, dossier, party.actor)


_OPEN_STATES = sorted(OPEN_STATES)


def _check_open_requests(count: int, today: dt.date) -> None:
    if not open_request_allowed(open_requests=count, on=today):
        most = deadlines_on(today).open_requests_max
        raise TooManyOpenRequests(
            f"{count} open requests on this training action, at most {most}", open_max=most
        )


async def act(
    db: Connection,
    party: Party,
    dossier_id: UUID,
    action: str,
    given: ActionInput,
    *,
    now: dt.datetime,
) -> DossierView:
    """Take ``action`` on the dossier as ``party``; 409 when the table does not allow it."""
    await lock_subject(db, dossier_id)
    dossier = await load_for(db, party, dossier_id)
    step = transition(action, party.actor, dossier.state)
    if step is None or (party.actor == "server" and not _due(dossier, now)):
        allowed = allowed_actions(dossier.state, party.actor)
        raise TransitionNotAllowed(
            f"{action!r} is not allowed in state {dossier.state}",
            state=dossier.state,
            allowed_actions=allowed,
        )
    if party.actor != "server":
        await record_access(
            db, party.principal, route=party.route, action="change", person_id=dossier.person_id
        )
    changed, recorded = await _apply(db, party, dossier, step, given, now)
    await _write(db, party, dossier, changed, step, now)
    payloads = await money.record_amounts(db, changed, recorded, now)
    for payload in payloads:
        await _money_event(db, changed, payload, now)
    log.debug("dossier_moved", action=action, actor=party.actor, state=changed.state)
    return await view(db, changed, party.actor)


async def _apply(
    db: Connection,
    party: Party,
    dossier: Dossier,
    step: Transition,
    given: ActionInput,
    now: dt.datetime,
) -> tuple[Dossier, list[money.Recorded]]:
    """The dossier after ``step`` (not yet written) and the amounts it moved."""
    today = now.date()
    target = step.target
    if step.action == "validate":
        dossier = _proposal(dossier, given, today)
        target = step.review_target if dossier.financer_review and step.review_target else target
    elif step.action == "declare_exit":
        dossier = _completion(dossier, given)
    elif step.action == "open_control":
        if dossier.control_opened_at is not None:
            raise ControlOpen()
        dossier = msgspec.structs.replace(dossier, control_opened_at=now)
    recorded: list[money.Recorded] = []
    if step.money == "hold":
        dossier, recorded = await money.reserve(db, dossier, party.provenance(), now)
    elif step.money == "settle":
        case = money.case_of(step, dossier, today)
        recorded = await money.settle_hold(db, dossier, case, party.provenance(), now)
    deadline = None if dossier.control_opened_at else _deadline(target, today)
    return msgspec.structs.replace(dossier, state=target, deadline_on=deadline), recorded


def _due(dossier: Dossier, now: dt.datetime) -> bool:
    """The server moves a dossier only once its deadline is reached (cpa.rules.trainings)."""
    running = DEADLINES.get(dossier.state)
    if running is None or dossier.deadline_on is None or dossier.control_opened_at:
        return False
    return running.reached(now.date(), dossier.deadline_on)


def _proposal(dossier: Dossier, given: ActionInput, today: dt.date) -> Dossier:
    """The body's proposal: the session's dates or others, starting late enough (§5.2.3)."""
    starts_on = given.starts_on or dossier.starts_on
    ends_on = given.ends_on or dossier.ends_on
    if ends_on < starts_on:
        raise InvalidTrainingInput(
            "the training ends on or after its start",
            errors=[{"field": "ends_on", "message": "must be >= starts_on"}],
        )
    if not start_allowed(proposed_on=today, start=starts_on):
        least = deadlines_on(today).start_after_proposal_days
        raise StartTooEarly(
            f"starts_on must be at least {least} working days after the proposal",
            earliest_start_on=earliest_start(today).isoformat(),
        )
    return msgspec.structs.replace(dossier, starts_on=starts_on, ends_on=ends_on)


def _completion(dossier: Dossier, given: ActionInput) -> Dossier:
    """The exit's completion rate and reason (a partial one must say why, §5.2.10)."""
    rate = given.completion_basis_points
    if rate is None:
        raise InvalidTrainingInput(
            "declare_exit needs the completion rate",
            errors=[{"field": "completion_basis_points", "message": "0 to 10000, required"}],
        )
    reason = given.exit_reason or ("completed" if rate == BASIS_POINTS_FULL else None)
    if reason is None or (reason == "completed") != (rate == BASIS_POINTS_FULL):
        raise InvalidTrainingInput(
            "a partial completion gives its exit_reason; completed means 10000",
            errors=[{"field": "exit_reason", "message": "holder_abandon, body_interrupt or "
                     "force_majeure below 10000; completed at 10000"}],
        )  # fmt: skip
    return msgspec.structs.replace(dossier, completion_basis_points=rate, exit_case=reason)


def _deadline(state: State, today: dt.date) -> dt.date | None:
    """The last day of the deadline ``state`` runs from today, or None (cpa.rules.trainings)."""
    running = DEADLINES.get(state)
    return None if running is None else running.due(today)


async def _write(
    db: Connection,
    party: Party,
    before: Dossier,
    after: Dossier,
    step: Transition,
    now: dt.datetime,
) -> None:
    """The dossier after the step, the states it entered (history) and their events."""
    facts: dict[str, Any] = {"action": step.action, "actor": party.actor,
                             "previous_state": before.state}  # fmt: skip
    fields = (
        after.id, after.state, after.starts_on, after.ends_on, after.hold_id, after.held_cents,
        after.copayment_cents, after.completion_basis_points, after.exit_case,
        after.control_opened_at, after.accepted_on, after.deadline_on, now,
    )  # fmt: skip
    if step.action == "open_control":  # no state entered: the control is an event
        with domain_errors():
            await db.execute(sql("update_dossier"), *fields)
        await _event(db, after, after.state, facts, now, kind="control_opened")
        return
    client_id = None if party.actor == "server" else party.principal.client_id
    if step.via is not None:
        await db.execute(
            sql("insert_dossier_state"), after.id, step.via, step.action, party.actor,
            client_id, now,
        )  # fmt: skip
        await _event(db, after, step.via, facts, now)
    with domain_errors():
        await db.execute(
            sql("update_dossier_entering"), *fields, step.action, party.actor, client_id
        )
    await _event(db, after, after.state, facts, now)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


async def _event(
    db: Connection,
    dossier: Dossier,
    state: State,
    facts: dict[str, Any],
    now: dt.datetime,
    *,
    kind: str | None = None,
) -> None:
    """``dossier.<state>`` (snake case, as event types are) to the dossier's training body."""
    data = {**_payload(dossier), "state": state, **facts}
    await record_event(
        db, type=f"dossier.{kind or _snake(state)}", subject_id=dossier.id,
        person_id=dossier.person_id, client_id=dossier.client_id, data=data, now=now,
    )  # fmt: skip


async def _money_event(
    db: Connection, dossier: Dossier, amount: dict[str, Any], now: dt.datetime
) -> None:
    if not amount["leg"].startswith("rights_"):
        return  # the co-payment is paid by card: not a movement of rights
    data = {**_payload(dossier), "state": dossier.state, **amount}
    await record_event(
        db, type=f"dossier.{amount['leg']}", subject_id=dossier.id,
        person_id=dossier.person_id, client_id=dossier.client_id, data=data, now=now,
    )  # fmt: skip


def _payload(dossier: Dossier) -> dict[str, Any]:
    """What every event of a dossier names: never the NIR nor the internal person id."""
    return {
        "dossier_id": str(dossier.id),
        "training_reference": f"dossier:{dossier.id}",
        "action_id": str(dossier.action_id),
        "session_id": str(dossier.session_id),
        "price_cents": dossier.price_cents,
        "held_cents": dossier.held_cents,
    }


# -- reading -------------------------------------------------------------------------------


async def load(db: Connection, dossier_id: UUID) -> Dossier:
    row = await db.fetchrow(sql("get_dossier"), dossier_id)
    if row is None:
        raise DossierNotFound()
    return from_row(Dossier, row)


async def load_for(db: Connection, party: Party, dossier_id: UUID) -> Dossier:
    """The dossier if ``party`` may see it: the citizen's own, the body's own, any for a
    financer or the server; otherwise not found (another body learns nothing of it)."""
    dossier = await load(db, dossier_id)
    principal = party.principal
    if party.actor == "citizen" and dossier.person_id != principal.person_id:
        raise DossierNotFound()
    if party.actor == "body" and dossier.client_id != principal.client_id:
        raise DossierNotFound()
    return dossier


_history_json = msgspec.json.Decoder(list[StateChange])
_amounts_json = msgspec.json.Decoder(list[Amount])


async def view(db: Connection, dossier: Dossier, actor: Actor) -> DossierView:
    story = await db.fetchrow(sql("get_dossier_story"), dossier.id)
    assert story is not None, "an aggregate answers one row"
    return DossierView(
        id=dossier.id, session_id=dossier.session_id, action_id=dossier.action_id,
        training_body=dossier.client_id, state=dossier.state, price_cents=dossier.price_cents,
        starts_on=dossier.starts_on, ends_on=dossier.ends_on, held_cents=dossier.held_cents,
        copayment_cents=dossier.copayment_cents,
        completion_basis_points=dossier.completion_basis_points,
        deadline_on=dossier.deadline_on, allowed_actions=allowed_actions(dossier.state, actor),
        history=_history_json.decode(story["history"]),
        amounts=_amounts_json.decode(story["amounts"]),
    )  # fmt: skip


async def list_dossiers(
    db: Connection, party: Party, *, state: str | None = None, limit: int = DOSSIERS_LISTED_MAX
) -> list[DossierView]:
    """The citizen's dossiers, or the body's (optionally in one state), newest first."""
    limit = min(max(limit, 1), DOSSIERS_LISTED_MAX)
    if party.actor == "citizen":
        rows = await db.fetch(sql("list_person_dossiers"), party.principal.person_id, limit)
    else:
        rows = await db.fetch(sql("list_client_dossiers"), party.principal.client_id, state, limit)
    return [await view(db, await load(db, row["id"]), party.actor) for row in rows]


# -- the server's deadlines ----------------------------------------------------------------


async def apply_deadlines(db: Connection, now: dt.datetime, limit: int = DUE_BATCH_MAX) -> int:
    """Move every dossier whose deadline passed (the periodic job); how many moved. Safe in
    two processes at once: each dossier is re-read under its lock, and one that moved
    meanwhile is no longer allowed the server's action."""
    rows = await db.fetch(sql("list_due_dossiers"), now.date(), limit)
    moved = 0
    for row in rows:
        async with db.transaction():
            dossier = await load(db, row["id"])
            running = DEADLINES.get(dossier.state)
            if running is None:
                continue
            party = Party(actor="server", principal=SERVER, route="deadline")
            try:
                await act(db, party, dossier.id, running.action, ActionInput(), now=now)
            except TransitionNotAllowed:
                continue
            moved += 1
    return moved


DEADLINE_INTERVAL_S = 60.0
"""How often each server process looks for passed deadlines (deadlines are whole days: a
minute late is nothing)."""


async def sweep_deadlines(database: Database, now: dt.datetime) -> int:
    """The periodic job (``cpa.periodic``): every passed deadline, a batch at a time."""
    moved = 0
    for _ in range(DEADLINE_BATCHES_MAX):
        async with database.acquire() as db:
            batch = await apply_deadlines(db, now, DUE_BATCH_MAX)
        moved += batch
        if batch < DUE_BATCH_MAX:
            break
    return moved
