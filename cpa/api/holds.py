"""Holds on the person's CPF rights, for a training body holding their consent (``cpf:hold``).

Two phases: ``POST /v1/me/cpf/holds`` reserves euros (201 with the hold), then the training
body posts what the training really cost (at most what it holds; the rest is released) or
voids it. A hold past ``expires_at`` is released by the server and cannot be posted. A
training body sees and changes only its own holds. Every POST takes an ``Idempotency-Key``;
every call is written to the person's access journal, in the same transaction as the write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from cpa.api.writes import IdempotencyKey, provenance, run_once, strictly
from cpa.auth.access_log import access_log_fields, read_access_log
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.db.database import Connection, transaction
from cpa.idempotency import claim as claim_key
from cpa.ledger import HoldNotFound, create_hold, get_hold, post_hold, void_hold
from cpa.ledger.models import Allocation, Hold, HoldStatus, NewHold
from cpa.text import Reference


class CreateHold(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount_cents: int
    """Euro cents to reserve (> 0, at most the available CPF rights)."""
    training_reference: Reference
    """The training body's reference of the training (1 to 200 characters)."""
    expires_at: dt.datetime
    """When unposted euros return to the account (future, at most 366 days, with a zone)."""


class PostHold(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount_cents: int
    """Euro cents debited for good (> 0, at most what the hold reserves)."""


class HoldView(msgspec.Struct, kw_only=True):
    """A hold, as its training body sees it; ``allocations`` say which pots the euros left."""

    id: UUID
    amount_cents: int
    training_reference: str
    expires_at: dt.datetime
    status: HoldStatus
    posted_cents: int | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    allocations: list[Allocation]


def hold_view(hold: Hold) -> HoldView:
    """The hold without what stays inside (its person, its client): its fields by name."""
    return msgspec.convert(hold, HoldView, from_attributes=True)


_HOLDER = requires("cpf:hold", kinds=("training_body",))


class HoldController(Controller):
    path = "/v1/me/cpf/holds"
    tags = ("holds",)

    @post(
        "/",
        operation_id="createHold",
        summary="Reserve euros of the person's CPF rights for a training",
        description=(
            "Debit order (décret 2025-1156): earmarked abondements and dotations first, then "
            "statutory rights, then CEC rights. Refused with `insufficient-rights` when the "
            "available balance does not cover the amount; never overdraws, however many "
            "requests race."
        ),
        opt=_HOLDER,
        status_code=201,
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        data: JSONBody[CreateHold],
        idempotency_key: IdempotencyKey = None,
    ) -> HoldView:
        assert principal.person_id is not None
        person_id = principal.person_id
        data = await strictly(request, data)
        now = dt.datetime.now(dt.UTC)
        new = NewHold(
            amount_cents=data.amount_cents,
            training_reference=data.training_reference,
            expires_at=data.expires_at,
        )
        claim = None
        if idempotency_key is not None:
            operation = f"createHold {person_id}"
            claim = claim_key(
                principal.client_id, idempotency_key, operation=operation, request=data, now=now
            )
        journal = access_log_fields(principal, "change", "/v1/me/cpf/holds")
        # One statement (key, lock, hold, entries, journal, stored response): no BEGIN/COMMIT.
        async with request.app.state.db.acquire() as db:
            hold = await create_hold(
                db,
                person_id,
                new,
                now=now,
                provenance=provenance(principal, idempotency_key),
                journal=journal,
                claim=claim,
            )
        return hold_view(hold)

    @get(
        "/{hold_id:uuid}",
        operation_id="getHold",
        summary="One of this training body's holds on the person's CPF rights",
        opt=_HOLDER,
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        hold_id: FromPath[UUID],
    ) -> HoldView:
        assert principal.person_id is not None
        async with transaction(request.app.state.db) as db:
            hold = await get_hold(db, principal.person_id, hold_id)
            if hold.client_id != principal.client_id:
                raise HoldNotFound()  # a training body sees only its own holds
            await read_access_log(request).record(db, principal, route="/v1/me/cpf/holds/{id}")
        return hold_view(hold)

    @post(
        "/{hold_id:uuid}/post",
        operation_id="postHold",
        summary="Debit the training's real cost (at most what is held); release the rest",
        opt=_HOLDER,
        status_code=200,
    )
    async def debit(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        hold_id: FromPath[UUID],
        data: JSONBody[PostHold],
        idempotency_key: IdempotencyKey = None,
    ) -> HoldView:
        data = await strictly(request, data)
        return await self._close(request, principal, hold_id, data.amount_cents, idempotency_key)

    @post(
        "/{hold_id:uuid}/void",
        operation_id="voidHold",
        summary="Release every euro of a pending hold",
        opt=_HOLDER,
        status_code=200,
    )
    async def void(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        hold_id: FromPath[UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> HoldView:
        return await self._close(request, principal, hold_id, None, idempotency_key)

    async def _close(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        hold_id: UUID,
        posted_cents: int | None,
        idempotency_key: str | None,
    ) -> HoldView:
        assert principal.person_id is not None
        person_id = principal.person_id
        now = dt.datetime.now(dt.UTC)
        by = provenance(principal, idempotency_key)
        action = "void" if posted_cents is None else "post"

        async def work(db: Connection) -> HoldView:
            if posted_cents is None:
                hold = await void_hold(db, person_id, hold_id, now=now, provenance=by)
            else:
                hold = await post_hold(db, person_id, hold_id, posted_cents, now=now, provenance=by)
            return hold_view(hold)

        return await run_once(
            request,
            principal,
            idempotency_key,
            operation=f"{action}Hold {person_id} {hold_id}",
            asked={"amount_cents": posted_cents},
            now=now,
            route=f"/v1/me/cpf/holds/{{id}}/{action}",
            work=work,
            result_type=HoldView,
        )
