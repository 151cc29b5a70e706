"""``GET /v1/events``: a client's events replayed in order, after a cursor.

The same bodies the client's webhooks receive (``cpa.webhooks.EventView``): a client that
missed deliveries (an endpoint down, a subscription disabled) reads from the last cursor it
stored and loses nothing. A training body reads its own dossiers' events; a portal those of
the persons who consented to it. The person is named by the pairwise ``sub`` the client
knows them by, never by cpa's internal id. A machine token (client credentials) of a
training body or a portal, with ``events:read``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.auth.guard import requires
from cpa.events import CURSOR_START, EVENTS_PAGE_MAX, events_after
from cpa.events.models import CURSOR_LENGTH_MAX
from cpa.webhooks import EventView, event_view

EVENTS_PAGE_DEFAULT = 100

AfterParam = Annotated[
    str,
    Parameter(
        max_length=CURSOR_LENGTH_MAX,
        description="the `cursor` of the last event already seen (`next_cursor` of a page); "
        f"`{CURSOR_START}` or left out: from the first event",
    ),
]
LimitParam = Annotated[
    int, Parameter(ge=1, le=EVENTS_PAGE_MAX, description="at most this many events")
]

EVENTS_READER = requires("events:read", person=False, kinds=("training_body", "portal"))
"""Scope ``events:read``, a machine token (client credentials) of a training body or portal."""


class EventPage(msgspec.Struct, kw_only=True):
    events: list[EventView]
    next_cursor: str
    """Where the next page starts: the last event's cursor, or ``after`` when none came."""


class EventController(Controller):
    path = "/v1/events"
    tags = ("events",)

    @get(
        "/",
        operation_id="listEvents",
        summary="The client's events after a cursor, in order (replay of its webhooks)",
        **doc(
            EVENTS_READER,
            description="Events are listed once final (every earlier transaction ended), so a "
            "cursor never passes an event committed later. A malformed cursor or a limit out of "
            "range is a 422 problem.",
        ),
    )
    async def list_events(
        self,
        call: Caller,
        after: AfterParam = CURSOR_START,
        limit: LimitParam = EVENTS_PAGE_DEFAULT,
    ) -> EventPage:
        now = dt.datetime.now(dt.UTC)
        async with call.db.acquire() as db:
            stored = await events_after(db, call.principal.client_id, after, limit=limit, now=now)
            # The guard's cached row, or read again (one load for all) if it expired since.
            client = await call.auth.client(db, call.principal.client_id)
        assert client is not None, "the guard admitted a registered client"
        events = [event_view(event, client.pairwise_salt) for event in stored]
        return EventPage(events=events, next_cursor=events[-1].cursor if events else after)
