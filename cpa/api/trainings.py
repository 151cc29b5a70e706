"""The training catalogue (issue 13 point 1): training bodies keep their own actions and
sessions (``trainings:write``, their own token); citizens, through a portal holding their
consent (``trainings:read``), and advisors search the open ones, a page at a time.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, Parameter

from cpa.api.advisor import ADVISOR
from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.auth.guard import requires
from cpa.trainings import (
    InvalidTrainingInput,
    NewSession,
    NewTrainingAction,
    SessionPatch,
    TrainingAction,
    TrainingActionNotFound,
    TrainingActionPatch,
    TrainingPage,
    TrainingSearch,
    TrainingSession,
    TrainingSessionNotFound,
    close_action,
    create_action,
    create_session,
    get_action,
    list_own_actions,
    search_actions,
    update_action,
    update_session,
)
from cpa.trainings.catalogue import PAGE_SIZE_MAX

Text = Annotated[str | None, Parameter(min_length=1, max_length=100, pattern=r"^[^\x00]*$",
                                       description="in the title or the description")]  # fmt: skip
Code = Annotated[str | None, Parameter(pattern=r"^(RNCP|RS)[0-9]{1,6}$",
                                       description="RNCP or RS certification code")]  # fmt: skip
Place = Annotated[str | None, Parameter(min_length=1, max_length=100, pattern=r"^[^\x00]*$",
                                        description="city or postcode")]  # fmt: skip
From = Annotated[dt.date | None, Parameter(description="a session starts on or after")]
Until = Annotated[dt.date | None, Parameter(description="a session starts on or before")]
PriceMax = Annotated[int | None, Parameter(ge=1, le=10_000_000, description="price ceiling, cents")]
After = Annotated[UUID | None, Parameter(description="``next_cursor`` of the previous page")]
Limit = Annotated[int, Parameter(ge=1, le=PAGE_SIZE_MAX, description="page size")]

_BODY = requires("trainings:write", person=False, kinds=("training_body",))


# Litestar orders a controller's routes, and so the spec, by their handlers' qualified names:
# ``_search_route.<locals>.search`` comes after the controller's own.
def _search_route(operation_id: str, guard: dict[str, Any], summary: str) -> HTTPRouteHandler:
    """``GET …/`` searching the open training actions: the citizens' and the advisors' searches
    differ only by their guard and their documentation."""

    async def search(
        self: Controller, call: Caller, text: Text = None, certification_code: Code = None,
        location: Place = None, starts_from: From = None, starts_until: Until = None,
        price_cents_max: PriceMax = None, after: After = None, limit: Limit = 20,
    ) -> TrainingPage:  # fmt: skip
        query = TrainingSearch(
            text=text, certification_code=certification_code, location=location,
            starts_from=starts_from, starts_until=starts_until,
            price_cents_max=price_cents_max, after=after, limit=limit,
        )  # fmt: skip
        async with call.db.acquire() as db:
            return await search_actions(db, query)

    return get("/", operation_id=operation_id, summary=summary, **doc(guard))(search)


class TrainingSearchController(Controller):
    path = "/v1/trainings"
    tags = ("trainings",)

    search = _search_route(
        "searchTrainings",
        requires("trainings:read"),
        "Search open training actions (text, certification, place, dates, price)",
    )

    @get(
        "/{action_id:uuid}",
        operation_id="getTraining",
        summary="One training action with its sessions",
        **doc(requires("trainings:read"), TrainingActionNotFound),
    )
    async def read(self, call: Caller, action_id: FromPath[UUID]) -> TrainingAction:
        async with call.db.acquire() as db:
            return await get_action(db, action_id)


class AdvisorTrainingController(Controller):
    path = "/v1/advisor/trainings"
    tags = ("advisor", "trainings")

    search = _search_route(
        "searchTrainingsForAdvisor", ADVISOR, "Search open training actions, as an advisor"
    )


class CatalogueController(Controller):
    """A training body's own catalogue; another body's actions and sessions are not found."""

    path = "/v1/catalogue"
    tags = ("trainings",)

    @get("/actions", operation_id="listOwnTrainings", summary="This body's actions", **doc(_BODY))
    async def mine(self, call: Caller, after: After = None, limit: Limit = 20) -> TrainingPage:
        async with call.db.acquire() as db:
            return await list_own_actions(db, call.principal.client_id, after=after, limit=limit)

    @post(
        "/actions",
        operation_id="createTraining",
        summary="Add a training action",
        **doc(_BODY, InvalidTrainingInput),
    )
    async def create(self, call: Caller, data: JSONBody[NewTrainingAction]) -> TrainingAction:
        data = await call.strictly(data)
        async with call.transaction() as db:
            return await create_action(db, call.principal.client_id, data, now=_now())

    @patch(
        "/actions/{action_id:uuid}",
        operation_id="updateTraining",
        summary="Change this body's training action",
        **doc(_BODY, TrainingActionNotFound, InvalidTrainingInput),
    )
    async def update(
        self, call: Caller, action_id: FromPath[UUID], data: JSONBody[TrainingActionPatch]
    ) -> TrainingAction:
        data = await call.strictly(data)
        async with call.transaction() as db:
            return await update_action(db, call.principal.client_id, action_id, data, now=_now())

    @post(
        "/actions/{action_id:uuid}/close",
        operation_id="closeTraining",
        summary="Close this body's training action to new requests",
        **doc(_BODY, TrainingActionNotFound),
        status_code=200,
    )
    async def close(self, call: Caller, action_id: FromPath[UUID]) -> TrainingAction:
        async with call.transaction() as db:
            return await close_action(db, call.principal.client_id, action_id, now=_now())

    @post(
        "/actions/{action_id:uuid}/sessions",
        operation_id="createTrainingSession",
        summary="Add a session to this body's training action",
        **doc(_BODY, TrainingActionNotFound, InvalidTrainingInput),
    )
    async def add_session(
        self, call: Caller, action_id: FromPath[UUID], data: JSONBody[NewSession]
    ) -> TrainingSession:
        data = await call.strictly(data)
        async with call.transaction() as db:
            return await create_session(db, call.principal.client_id, action_id, data, now=_now())

    @patch(
        "/sessions/{session_id:uuid}",
        operation_id="updateTrainingSession",
        summary="Change price, seats or open/closed of this body's session",
        **doc(_BODY, TrainingSessionNotFound, InvalidTrainingInput),
    )
    async def update_session(
        self, call: Caller, session_id: FromPath[UUID], data: JSONBody[SessionPatch]
    ) -> TrainingSession:
        data = await call.strictly(data)
        async with call.transaction() as db:
            return await update_session(db, call.principal.client_id, session_id, data, now=_now())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
