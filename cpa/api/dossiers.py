"""Dossiers (issue 13 points 2, 4, 6): a citizen's purchase of a training session, moved by
named actions (``POST …/actions/{action}``) whose table is ``cpa.trainings.machine``.

- The citizen, through a portal holding their consent: ``/v1/me/dossiers`` (``dossiers:read``
  to list, read and see what each step would cost; ``dossiers:write`` to request, accept,
  decline, cancel).
- The training body, with its own token: ``/v1/dossiers`` (``dossiers:manage``): the
  dossiers of its own sessions only.
- The financer (an operator, ``dossiers:finance``): ``/v1/financer/dossiers``.
- An advisor, with a person reference and its purpose: ``/v1/advisor/persons/{ref}/dossiers``.

An action not allowed in the dossier's state is a 409 ``transition-not-allowed`` problem naming
the state and the caller's allowed actions; every view lists ``allowed_actions``. Every POST
requires an ``Idempotency-Key`` (a 428 problem without one: an action may hold, debit or
release the citizen's rights; ``cpa.api.writes``) and marks a replay with
``Idempotent-Replayed: true``; a new dossier's 201 names it in ``Location``. Every step is
written to the citizen's access journal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from cpa.api.advisor import ADVISOR
from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.api.writes import (
    MoneyKey,
    answer,
    money_write,
)
from cpa.auth.advisor import resolve_person_ref
from cpa.auth.errors import PersonRefNotFound
from cpa.auth.guard import requires
from cpa.db.database import Connection
from cpa.errors import CpaError
from cpa.events import lock_subject
from cpa.idempotency import (
    Replayable,
    claim,
    run_idempotent,
)
from cpa.ledger import InsufficientRights
from cpa.trainings import (
    ActionInput,
    Actor,
    ControlOpen,
    DossierNotFound,
    DossierView,
    InvalidTrainingInput,
    NewDossier,
    Party,
    SessionClosed,
    StartTooEarly,
    TooManyOpenRequests,
    TrainingSessionNotFound,
    TransitionNotAllowed,
    act,
    actions_of,
    list_dossiers,
    load_for,
    quote,
    request_dossier,
    view,
)
from cpa.trainings.models import Quote
from cpa.trainings.service import DOSSIERS_LISTED_MAX

ActionParam = Annotated[str, Parameter(max_length=64, description="the action's name")]
StateParam = Annotated[
    str | None, QueryParameter(name="state", max_length=64, description="only in this state")
]
LimitParam = Annotated[int, Parameter(ge=1, le=DOSSIERS_LISTED_MAX, description="at most")]


class Dossiers(msgspec.Struct, kw_only=True):
    dossiers: list[DossierView]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _step(
    call: Call,
    subject: UUID | None,
    key: str,
    *,
    operation: str,
    asked: Any,
    work: Callable[[Connection], Awaitable[DossierView]],
) -> Replayable[DossierView]:
    """``work(db)`` in one transaction, at most once per key. The key is written first: a step
    on an existing dossier (``subject``) then takes the dossier's event lock before it (the
    step takes it itself otherwise, before its first write); a new dossier has no events yet
    to keep in order."""
    async with call.db.acquire() as db, db.transaction():
        if subject is not None:
            await lock_subject(db, subject)
        now = _now()
        claimed = claim(call.principal.client_id, key, operation=operation, request=asked, now=now)
        return await run_idempotent(
            db, claimed, now=now, work=lambda: work(db), result_type=DossierView
        )


async def _act(
    call: Call, actor: Actor, dossier_id: UUID, action: str, data: ActionInput, key: str
) -> Replayable[DossierView]:
    route = _ROUTES[actor]
    party = Party(actor=actor, principal=call.principal, route=route, idempotency_key=key)

    async def work(db: Connection) -> DossierView:
        return await act(db, party, dossier_id, action, data, now=_now())

    return await _step(
        call, dossier_id, key, operation=f"dossier {action} {dossier_id}",
        asked=msgspec.to_builtins(data), work=work,
    )  # fmt: skip


async def _read(call: Call, actor: Actor, dossier_id: UUID) -> DossierView:
    party = Party(actor=actor, principal=call.principal, route=_ROUTES[actor] + "/{id}")
    async with call.transaction() as db:
        dossier = await load_for(db, party, dossier_id)
        await call.journal_read(db, party.route, _reader(call, dossier.person_id))
        return await view(db, dossier, actor)


def _reader(call: Call, person_id: UUID) -> Any:
    """The principal a read is journaled as, naming the dossier's citizen."""
    return msgspec.structs.replace(call.principal, person_id=person_id)


_ROUTES: dict[Actor, str] = {
    "citizen": "/v1/me/dossiers",
    "body": "/v1/dossiers",
    "financer": "/v1/financer/dossiers",
    "server": "deadline",
}

_CITIZEN_READ = requires("dossiers:read")
_CITIZEN_WRITE = requires("dossiers:write")
_BODY = requires("dossiers:manage", person=False, kinds=("training_body",))
_FINANCER = requires("dossiers:finance", person=False, kinds=("operator",))

_EVERY_ACTION = (DossierNotFound, TransitionNotAllowed)
"""The problems any action may answer; each actor's own actions add theirs."""
_ACTION_DOC = (
    "The transition table (cpa.trainings.machine) says who may take which action from which "
    "state; a 409 `transition-not-allowed` problem names the current state and the caller's "
    "allowed actions. Money moves only through the ledger's holds."
)


_ACTING: dict[Actor, str] = {
    "citizen": "Take an action on the citizen's dossier",
    "body": "Take an action on this body's dossier",
    "financer": "Take a financer's action",
}
"""The summary of each actor's action route, which then names the actor's actions in the table."""


# Litestar orders a controller's routes, and so the spec, by their handlers' qualified names:
# ``_read_route.<locals>.read`` then ``_take_route.<locals>.take``, after the controller's own.
def _read_route(
    actor: Actor, operation_id: str, guard: dict[str, Any], summary: str
) -> HTTPRouteHandler:
    """``GET …/{dossier_id}`` for ``actor``: the actors' reads differ only by their guard and
    their documentation."""

    async def read(self: Controller, call: Caller, dossier_id: FromPath[UUID]) -> DossierView:
        return await _read(call, actor, dossier_id)

    return get(
        "/{dossier_id:uuid}",
        operation_id=operation_id,
        summary=summary,
        **doc(guard, DossierNotFound),
    )(read)


def _take_route(
    actor: Actor, operation_id: str, guard: dict[str, Any], *problems: type[CpaError]
) -> HTTPRouteHandler:
    """``POST …/{dossier_id}/actions/{action}`` for ``actor``: the actors' routes differ only
    by their guard, the problems their own actions add, and the actions the table gives them."""

    async def take(
        self: Controller, call: Caller, dossier_id: FromPath[UUID], action: ActionParam,
        key: MoneyKey, data: JSONBody[ActionInput | None] = None,
    ) -> Response[DossierView]:  # fmt: skip
        given = ActionInput() if data is None else await call.strictly(data)
        return answer(await _act(call, actor, dossier_id, action, given, key))

    return post(
        "/{dossier_id:uuid}/actions/{action:str}",
        operation_id=operation_id,
        summary=f"{_ACTING[actor]} ({', '.join(actions_of(actor))})",
        **money_write(guard, *_EVERY_ACTION, *problems, description=_ACTION_DOC),
    )(take)


class MyDossierController(Controller):
    path = "/v1/me/dossiers"
    tags = ("dossiers",)

    @post(
        "/",
        operation_id="requestDossier",
        summary="Request a training session (the dossier starts notProcessed)",
        **money_write(
            _CITIZEN_WRITE,
            TrainingSessionNotFound,
            SessionClosed,
            TooManyOpenRequests,
            created=True,
            description="At most 5 open requests per training action (§5.2); the session must "
            "be open. The training body must answer within 2 working days.",
        ),
    )
    async def create(
        self, call: Caller, data: JSONBody[NewDossier], key: MoneyKey
    ) -> Response[DossierView]:
        data = await call.strictly(data)
        party = Party(actor="citizen", principal=call.principal, route=_ROUTES["citizen"],
                      idempotency_key=key)  # fmt: skip
        person = call.person_id

        async def work(db: Connection) -> DossierView:
            return await request_dossier(db, party, data, now=_now())

        done = await _step(
            call, None, key, operation=f"requestDossier {person}",
            asked=msgspec.to_builtins(data), work=work,
        )  # fmt: skip
        return answer(done, status=201, location=f"{_ROUTES['citizen']}/{done.result.id}")

    @get("/", operation_id="listMyDossiers", summary="The citizen's dossiers", **doc(_CITIZEN_READ))
    async def mine(self, call: Caller, limit: LimitParam = DOSSIERS_LISTED_MAX) -> Dossiers:
        party = Party(actor="citizen", principal=call.principal, route=_ROUTES["citizen"])
        async with call.transaction() as db:
            found = await list_dossiers(db, party, limit=limit)
            await call.journal_read(db, party.route)
        return Dossiers(dossiers=found)

    @get(
        "/{dossier_id:uuid}/quote",
        operation_id="quoteMyDossier",
        summary="What accepting costs the citizen, and what cancelling today would cost",
        **doc(_CITIZEN_READ, DossierNotFound),
    )
    async def cost(self, call: Caller, dossier_id: FromPath[UUID]) -> Quote:
        party = Party(actor="citizen", principal=call.principal, route=_ROUTES["citizen"])
        async with call.transaction() as db:
            dossier = await load_for(db, party, dossier_id)
            await call.journal_read(db, "/v1/me/dossiers/{id}/quote")
            return await quote(db, dossier, _now())

    read = _read_route(
        "citizen",
        "getMyDossier",
        _CITIZEN_READ,
        "One of the citizen's dossiers, with its history, amounts and allowed actions",
    )

    take = _take_route("citizen", "actOnMyDossier", _CITIZEN_WRITE, InsufficientRights)


class BodyDossierController(Controller):
    """The dossiers of a training body's own sessions; another body's are not found."""

    path = "/v1/dossiers"
    tags = ("dossiers",)

    @get("/", operation_id="listBodyDossiers", summary="This body's dossiers", **doc(_BODY))
    async def mine(
        self, call: Caller, in_state: StateParam = None, limit: LimitParam = DOSSIERS_LISTED_MAX
    ) -> Dossiers:
        party = Party(actor="body", principal=call.principal, route=_ROUTES["body"])
        async with call.transaction() as db:
            return Dossiers(dossiers=await list_dossiers(db, party, state=in_state, limit=limit))

    read = _read_route("body", "getBodyDossier", _BODY, "One of this body's dossiers")
    take = _take_route("body", "actOnBodyDossier", _BODY, StartTooEarly, InvalidTrainingInput)


class FinancerDossierController(Controller):
    path = "/v1/financer/dossiers"
    tags = ("dossiers",)

    read = _read_route(
        "financer", "getFinancerDossier", _FINANCER, "A dossier, as its financer sees it"
    )
    take = _take_route(
        "financer", "actOnFinancerDossier", _FINANCER, ControlOpen, InvalidTrainingInput
    )


class AdvisorDossierController(Controller):
    path = "/v1/advisor/persons/{ref:str}/dossiers"
    tags = ("advisor", "dossiers")

    @get(
        "/",
        operation_id="listAdvisorDossiers",
        summary="A person's dossiers, for the advisor's declared purpose (journaled)",
        **doc(ADVISOR, PersonRefNotFound),
    )
    async def list_for(self, call: Caller, ref: FromPath[str]) -> Dossiers:
        async with call.transaction() as db:
            advisor = await resolve_person_ref(db, call.principal, ref)
            party = Party(actor="citizen", principal=advisor, route="/v1/advisor/dossiers")
            found = await list_dossiers(db, party)
            await call.journal_read(db, "/v1/advisor/persons/{ref}/dossiers", reader=advisor)
        # An advisor sees what the citizen sees and may do, and does none of it.
        return Dossiers(dossiers=found)
