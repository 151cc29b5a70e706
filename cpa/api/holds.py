"""Holds on the person's CPF rights, for a training body holding their consent (``cpf:hold``).

Two phases: ``POST /v1/me/cpf/holds`` reserves euros (201 with the hold), then the training
body posts what the training really cost (at most what it holds; the rest is released) or
voids it. A hold past ``expires_at`` is released by the server and cannot be posted. A
training body sees and changes only its own holds. Every POST takes an ``Idempotency-Key``;
every call is written to the person's access journal, in the same transaction as the write.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.api.writes import IdempotencyKey, run_once
from cpa.auth.access_log import access_log_fields
from cpa.auth.guard import requires
from cpa.db.database import Connection
from cpa.errors import InvalidInput
from cpa.idempotency import claim as claim_key
from cpa.idempotency.errors import IdempotencyConflict
from cpa.ledger import HoldNotFound, create_hold, get_hold, post_hold, void_hold
from cpa.ledger.errors import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotPending,
    InsufficientRights,
    InvalidAmount,
)
from cpa.ledger.holds import HOLD_AMOUNT_MAX_CENTS, HOLD_LIFETIME_MAX
from cpa.ledger.models import Hold, HoldView, NewHold
from cpa.text import Reference

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


def hold_view(hold: Hold) -> HoldView:
    """The hold without what stays inside (its person, its client): its fields by name."""
    return msgspec.convert(hold, HoldView, from_attributes=True)


_HOLDER = requires("cpf:hold", kinds=("training_body",))
_CLOSING = (HoldNotFound, HoldNotPending, HoldExpired, IdempotencyConflict)


class HoldController(Controller):
    path = "/v1/me/cpf/holds"
    tags = ("holds",)

    @post(
        "/",
        operation_id="createHold",
        summary="Reserve euros of the person's CPF rights for a training",
        **doc(
            _HOLDER,
            InsufficientRights,
            InvalidAmount,
            IdempotencyConflict,
            description=(
                "Debit order (décret 2025-1156): earmarked abondements and dotations first, then "
                "statutory rights, then CEC rights. Refused with `insufficient-rights` when the "
                "available balance does not cover the amount; never overdraws, however many "
                "requests race."
            ),
        ),
        status_code=201,
    )
    async def create(
        self, call: Caller, data: JSONBody[CreateHold], idempotency_key: IdempotencyKey = None
    ) -> HoldView:
        principal, person_id = call.principal, call.person_id
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        new = NewHold(**msgspec.structs.asdict(data))  # the same fields
        claim = None
        if idempotency_key is not None:
            operation = f"createHold {person_id}"
            claim = claim_key(
                principal.client_id, idempotency_key, operation=operation, request=data, now=now
            )
        journal = access_log_fields(principal, "change", "/v1/me/cpf/holds")
        # One statement (key, lock, hold, entries, journal, stored response): no BEGIN/COMMIT.
        async with call.db.acquire() as db:
            hold = await create_hold(
                db,
                person_id,
                new,
                now=now,
                provenance=call.provenance(idempotency_key),
                journal=journal,
                claim=claim,
            )
        return hold_view(hold)

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
        **doc(_HOLDER, *_CLOSING, AmountBeyondHeld, InvalidAmount),
        status_code=200,
    )
    async def debit(
        self,
        call: Caller,
        hold_id: FromPath[UUID],
        data: JSONBody[PostHold],
        idempotency_key: IdempotencyKey = None,
    ) -> HoldView:
        data = await call.strictly(data)
        return await _close(call, hold_id, data.amount_cents, idempotency_key)

    @post(
        "/{hold_id:uuid}/void",
        operation_id="voidHold",
        summary="Release every euro of a pending hold",
        **doc(_HOLDER, *_CLOSING),
        status_code=200,
    )
    async def void(
        self, call: Caller, hold_id: FromPath[UUID], idempotency_key: IdempotencyKey = None
    ) -> HoldView:
        return await _close(call, hold_id, None, idempotency_key)


async def _close(
    call: Call, hold_id: UUID, posted_cents: int | None, idempotency_key: str | None
) -> HoldView:
    """Post (``posted_cents``) or void (``None``) one of the caller's holds."""
    person_id = call.person_id
    now = dt.datetime.now(dt.UTC)
    by = call.provenance(idempotency_key)
    action = "void" if posted_cents is None else "post"

    async def work(db: Connection) -> HoldView:
        if posted_cents is None:
            hold = await void_hold(db, person_id, hold_id, now=now, provenance=by)
        else:
            hold = await post_hold(db, person_id, hold_id, posted_cents, now=now, provenance=by)
        return hold_view(hold)

    return await run_once(
        call,
        idempotency_key,
        operation=f"{action}Hold {person_id} {hold_id}",
        asked={"amount_cents": posted_cents},
        now=now,
        route=f"/v1/me/cpf/holds/{{id}}/{action}",
        work=work,
        result_type=HoldView,
    )
