"""Benchmark twins and floors, mounted only by the bench's own server (``tests/bench/app.py``,
started by ``make bench``), so that each is measured in the same run as the route it bounds.
They are no part of the package: the production app cannot mount them.

- Twins: the same handler body as a guarded route, without the guard (outside ``/v1``):
  ``/bench/me`` vs ``GET /v1/me`` measures the guard. It tells only a consent's expiry date.
- Floors: guarded routes under ``/v1/bench`` that do everything their real route must do
  around its database work — token check, request parsing, the access journal, a response of
  the same type — with one ``select 1`` in place of that work. No real route of their kind
  can be cheaper, whatever its SQL: ``read-floor`` bounds ``GET /v1/me/account``,
  ``hold-floor`` bounds ``POST /v1/me/cpf/holds``. They write nothing but journal lines of
  reads, and answer made-up data only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody

from cpa.api.account import AccountView
from cpa.api.call import Caller
from cpa.api.holds import CreateHold
from cpa.api.me import Me, load_me
from cpa.api.writes import IdempotencyKey
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.db.queries import sql
from cpa.ledger.models import HoldView


class BenchTwinController(Controller):
    path = "/bench"
    tags = ("bench",)
    include_in_schema = False

    @get("/me", operation_id="benchMeUnguarded")
    async def me(
        self,
        request: Request[Any, Any, Any],
        consent_id: FromQuery[UUID],
        sub: FromQuery[str],
        client_id: FromQuery[str],
    ) -> Me:
        principal = Principal(
            client_id=client_id,
            client_kind="portal",
            scopes=frozenset({"account:read"}),
            jti="bench",
            sub=sub,
            consent_id=consent_id,
        )
        return await load_me(request.app.state.db, principal)


class BenchFloorController(Controller):
    path = "/v1/bench"
    tags = ("bench",)
    include_in_schema = False

    @get("/read-floor", operation_id="benchReadFloor", opt=requires("account:read"))
    async def read_floor(self, call: Caller) -> AccountView:
        """The account read's floor: guard, one round trip, the read's journal line."""
        async with call.db.acquire() as db:
            await db.fetchval(sql("check_ready"))
            await call.journal_read(db, "/v1/bench/read-floor")
        return AccountView(as_of=dt.datetime.now(dt.UTC), sub=call.principal.sub)

    @post(
        "/hold-floor",
        operation_id="benchHoldFloor",
        opt=requires("cpf:hold", kinds=("training_body",)),
        status_code=201,
    )
    async def hold_floor(
        self, call: Caller, data: JSONBody[CreateHold], idempotency_key: IdempotencyKey = None
    ) -> HoldView:
        """The hold's floor: guard, the same body and header parsing, one round trip."""
        data = await call.strictly(data)
        async with call.db.acquire() as db:
            await db.fetchval(sql("check_ready"))
        return HoldView(
            id=uuid4(),
            amount_cents=data.amount_cents,
            training_reference=data.training_reference,
            expires_at=data.expires_at,
            status="pending",
            posted_cents=None,
            created_at=dt.datetime.now(dt.UTC),
            closed_at=None,
            allocations=[],
        )
