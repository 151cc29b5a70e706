"""Holds on the person's CPF rights, for a training body holding their consent (``cpf:hold``).

Two phases: ``POST /v1/me/cpf/holds`` reserves euros (201 with the hold and its ``Location``),
then the training body posts what the training really cost (at most what it holds; the rest
is released) or voids it. A hold past ``expires_at`` is released by the server and cannot be
posted. A training body sees and changes only its own holds, and lists them all, every
person's, with its own token (``GET /v1/holds``, ``holds:read``) to reconcile after a crash of
its own. Every POST requires an ``Idempotency-Key`` (``cpa.api.writes``); every call is written
to the person's access journal, in the same transaction as the write.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, Parameter

from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.api.writes import MoneyKey, answer, money_write, run_once
from cpa.auth.access_log import access_log_fields
from cpa.auth.guard import requires
from cpa.db.database import Connection
from cpa.errors import InvalidInput
from cpa.idempotency import Replayable
from cpa.idempotency import claim as claim_key
from cpa.ledger import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientRights,
    InvalidCursor,
    create_hold_once,
    get_hold,
    list_client_holds,
    post_hold,
    void_hold,
)
from cpa.ledger.errors import InvalidAmount
from cpa.ledger.holds import HOLD_AMOUNT_MAX_CENTS, HOLD_LIFETIME_MAX, HOLDS_LISTED_MAX
from cpa.ledger.models import Hold, HoldStatus, HoldView, NewHold
from cpa.provenance import Provenance
from cpa.text import Reference

HOLDS_PATH = "/v1/me/cpf/holds"
HoldAmount = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=HOLD_AMOUNT_MAX_CENTS,
        description="Euro cents: at least 1, at most the available CPF rights.",
    ),
]
Expiry = Annotated[
    dt.datetime,
    msgspec.Meta(
        tz=True,
        description=(
            "When unposted euros return to the account: in the future, at most "
            f"{HOLD_LIFETIME_MAX.days} days ahead, with a time zone."
        ),
    ),
]


_AMOUNT_PROBLEM: dict[str, type[InvalidInput]] = {"amount_cents": InvalidAmount}


class CreateHold(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    field_problems: ClassVar[dict[str, type[InvalidInput]]] = _AMOUNT_PROBLEM
    amount_cents: HoldAmount
    """Euro cents to reserve (at least 1, at most the available CPF rights)."""
    training_reference: Reference
    """The training body's reference of the training (not blank, 200 characters at most)."""
    expires_at: Expiry


class PostHold(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    field_problems: ClassVar[dict[str, type[InvalidInput]]] = _AMOUNT_PROBLEM
    amount_cents: HoldAmount
    """Euro cents debited for good (at least 1, at most what the hold reserves)."""


class ClientHold(HoldView, frozen=True, kw_only=True):
    """One of the training body's holds, with the person it is on, as this body knows them."""

    sub: str
    """The person's subject for this client (the ``sub`` of its tokens for them)."""


class ClientHolds(msgspec.Struct, kw_only=True):
    holds: list[ClientHold]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""


def hold_view(hold: Hold) -> HoldView:
    """The hold without what stays inside (its person, its client): its fields by name."""
    return msgspec.convert(hold, HoldView, from_attributes=True)


_HOLDER = requires("cpf:hold", kinds=("training_body",))
_CLOSING = (HoldNotFound, HoldNotPending, HoldExpired)
_RECONCILER = requires("holds:read", person=False, kinds=("training_body",))

StatusParam = Annotated[HoldStatus | None, Parameter(description="only holds in this status")]
CreatedFromParam = Annotated[
    dt.datetime | None, Parameter(description="created at or after this instant (with a zone)")
]
CreatedBeforeParam = Annotated[
    dt.datetime | None, Parameter(description="created before this instant (with a zone)")
]
CursorParam = Annotated[
    str | None, Parameter(max_length=128, description="``next_cursor`` of the previous page")
]
LimitParam = Annotated[int, Parameter(ge=1, le=HOLDS_LISTED_MAX, description="page size")]


class HoldController(Controller):
    path = HOLDS_PATH
    tags = ("holds",)

    @post(
        "/",
        operation_id="createHold",
        summary="Reserve euros of the person's CPF rights for a training",
        **money_write(
            _HOLDER,
            InsufficientRights,
            InvalidAmount,
            created=True,
            description=(
                "Debit order (décret 2025-1156): earmarked abondements and dotations first, "
                "then statutory rights, then CEC rights. Refused with `insufficient-rights` "
                "when the available balance does not cover the amount; never overdraws, "
                "however many requests race. `Location` names the hold."
            ),
        ),
    )
    async def create(
        self, call: Caller, data: JSONBody[CreateHold], key: MoneyKey
    ) -> Response[HoldView]:
        principal, person_id = call.principal, call.person_id
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        new = NewHold(**msgspec.structs.asdict(data))  # the same fields
        operation = f"createHold {person_id}"
        claim = claim_key(principal.client_id, key, operation=operation, request=data, now=now)
        journal = access_log_fields(principal, "change", HOLDS_PATH)
        # One statement (key, lock, hold, entries, journal, stored response): no BEGIN/COMMIT.
        async with call.db.acquire() as db:
            created = await create_hold_once(
                db,
                person_id,
                new,
                now=now,
                provenance=call.provenance(key),
                journal=journal,
                claim=claim,
            )
        view = Replayable(hold_view(created.result), created.replayed)
        return answer(view, status=201, location=f"{HOLDS_PATH}/{view.result.id}")

    @get(
        "/{hold_id:uuid}",
        operation_id="getHold",
        summary="One of this training body's holds on the person's CPF rights",
        **doc(_HOLDER, HoldNotFound),
    )
    async def read(self, call: Caller, hold_id: FromPath[UUID]) -> HoldView:
        async with call.transaction() as db:
            hold = await get_hold(db, call.person_id, hold_id)
            if hold.client_id != call.principal.client_id:
                raise HoldNotFound()  # a training body sees only its own holds
            await call.journal_read(db, "/v1/me/cpf/holds/{id}")
        return hold_view(hold)

    @post(
        "/{hold_id:uuid}/post",
        operation_id="postHold",
        summary="Debit the training's real cost (at most what is held); release the rest",
        **money_write(_HOLDER, *_CLOSING, AmountBeyondHeld, InvalidAmount),
    )
    async def debit(
        self,
        call: Caller,
        hold_id: FromPath[UUID],
        data: JSONBody[PostHold],
        key: MoneyKey,
    ) -> Response[HoldView]:
        data = await call.strictly(data)
        return await _close(call, hold_id, data.amount_cents, key)

    @post(
        "/{hold_id:uuid}/void",
        operation_id="voidHold",
        summary="Release every euro of a pending hold",
        **money_write(_HOLDER, *_CLOSING),
    )
    async def void(
        self, call: Caller, hold_id: FromPath[UUID], key: MoneyKey
    ) -> Response[HoldView]:
        return await _close(call, hold_id, None, key)


class ClientHoldController(Controller):
    """The holds a training body created, every person's: its reconciliation after a crash."""

    path = "/v1/holds"
    tags = ("holds",)

    @get(
        "/",
        operation_id="listClientHolds",
        summary="The holds this training body created, newest first (cursor pagination)",
        **doc(
            _RECONCILER,
            InvalidCursor,
            description=(
                "Every person's holds created by this client, by status and creation time, "
                "each with the person's `sub` for this client: what a training body compares "
                "with its own records after a crash (a hold it never learnt the id of is "
                "here). Each person whose hold is listed has the read in their access journal."
            ),
        ),
    )
    async def mine(
        self,
        call: Caller,
        status: StatusParam = None,
        created_from: CreatedFromParam = None,
        created_before: CreatedBeforeParam = None,
        cursor: CursorParam = None,
        limit: LimitParam = HOLDS_LISTED_MAX,
    ) -> ClientHolds:
        principal = call.principal
        since = _instant("created_from", created_from)
        before = _instant("created_before", created_before)
        async with call.transaction() as db:
            page = await list_client_holds(
                db,
                principal.client_id,
                status=status,
                created_from=since,
                created_before=before,
                cursor=cursor,
                limit=limit,
            )
            client = await call.auth.client(db, principal.client_id)
            assert client is not None, "the guard admitted a registered client"
            for person_id in dict.fromkeys(hold.person_id for hold in page.items):
                reader = msgspec.structs.replace(principal, person_id=person_id)
                await call.journal_read(db, "/v1/holds", reader)
        holds = [
            ClientHold(**msgspec.structs.asdict(hold_view(h)), sub=client.subject_for(h.person_id))
            for h in page.items
        ]
        return ClientHolds(holds=holds, next_cursor=page.next_cursor)


def _instant(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """A query's instant in UTC; refused without a time zone (whose clock would it be?) or
    when it has no UTC equivalent (year 1 at +14:00)."""
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            raise ValueError("no time zone")
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        message = "an instant with a time zone, within years 1 to 9999 in UTC"
        errors = [{"field": name, "message": message}]
        raise InvalidInput(f"{name}: {message}", errors=errors) from None


async def _close(
    call: Call, hold_id: UUID, posted_cents: int | None, key: str
) -> Response[HoldView]:
    """Post (``posted_cents``) or void (``None``) one of the caller's holds."""
    person_id = call.person_id
    now = dt.datetime.now(dt.UTC)
    action = "void" if posted_cents is None else "post"

    async def work(db: Connection, by: Provenance) -> HoldView:
        if posted_cents is None:
            hold = await void_hold(db, person_id, hold_id, now=now, provenance=by)
        else:
            hold = await post_hold(db, person_id, hold_id, posted_cents, now=now, provenance=by)
        return hold_view(hold)

    done = await run_once(
        call,
        key,
        operation=f"{action}Hold {person_id} {hold_id}",
        asked={"amount_cents": posted_cents},
        now=now,
        route=f"/v1/me/cpf/holds/{{id}}/{action}",
        work=work,
        result_type=HoldView,
    )
    return answer(done)
