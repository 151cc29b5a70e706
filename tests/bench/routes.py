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
- ``hold-db-floor``: the hold's route with its database work cut to its floor, what any hold
  must write (``HOLD_DB_FLOOR``, on the copies of cpa's tables in the schema ``hold_floor``
  that ``scenarios_ledger`` creates): the database's share of a hold that no hold statement
  can beat, over HTTP as the server's pool runs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
from cpa.idempotency import KEY_LIFETIME
from cpa.ledger.models import Allocation, HoldView
from cpa.rules.debit import debit_order

HOLD_DB_FLOOR = """
with debited as (
    update hold_floor.ledger_locks l
    set statutory_cents = l.statutory_cents - $4::bigint,
        held_cents = l.held_cents + $4::bigint
    where l.person_id = $1::uuid and l.statutory_cents >= $4::bigint
    returning l.person_id
), hold as (
    insert into hold_floor.cpf_holds (id, person_id, amount_cents, training_reference,
        expires_at, client_id, token_jti, created_at, idempotency_key, request_sha256,
        key_expires_at)
    select $2::uuid, d.person_id, $4::bigint, $5::text, $6::timestamptz, $9::text, $10::text,
        $7::timestamptz, $11::text, $12::bytea, $13::timestamptz
    from debited d
), entries as (
    insert into hold_floor.ledger_entries (person_id, pot, kind, amount, unit, effective_on,
        correlation_id, hold_id, rule_id, parameter_effective_from, legal_reference,
        client_id, token_jti, idempotency_key)
    select d.person_id, m.pot, 'hold', m.amount, 'cents', $8::date, $3::uuid, $2::uuid,
        $14::text, $15::date, $16::text, $9::text, $10::text, $11::text
    from debited d, (values ('cpf_statutory', -$4::bigint), ('cpf_held', $4::bigint))
        as m(pot, amount)
), journal as (
    insert into hold_floor.access_journal (person_id, client_id, client_kind, client_name,
        action, route)
    select d.person_id, $9::text, $17::text, $18::text, 'change', '/v1/me/cpf/holds'
    from debited d
)
select count(*) from debited
"""
"""The database's floor of a hold: one conditional UPDATE of the person's row (no overdraft,
the lock), the hold row, its two entries (double entry), the journal line, with the
arguments ``create_hold_lean`` takes; on copies of cpa's tables (same CHECKs, indexes and
foreign keys). Not the balance rows, nor the key probes (``holds_pg_floor`` runs it alone)."""


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
        return _pending(data, uuid4(), dt.datetime.now(dt.UTC), [])

    @post(
        "/hold-db-floor",
        operation_id="benchHoldDbFloor",
        opt=requires("cpf:hold", kinds=("training_body",)),
        status_code=201,
    )
    async def hold_db_floor(
        self, call: Caller, data: JSONBody[CreateHold], idempotency_key: IdempotencyKey = None
    ) -> HoldView:
        """The hold's route with its database work cut to ``HOLD_DB_FLOOR``."""
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        hold_id, principal = uuid4(), call.principal
        order = debit_order(now.date())
        async with call.db.acquire() as db:
            held = await db.fetchval(
                HOLD_DB_FLOOR,
                call.person_id, hold_id, uuid4(), data.amount_cents, data.training_reference,
                data.expires_at, now, now.date(), principal.client_id, principal.jti,
                idempotency_key, hashlib.sha256(await call.request.body()).digest(),
                now + KEY_LIFETIME, order.trace.rule_id, order.trace.parameter_effective_from,
                order.trace.legal_reference, principal.client_kind, principal.client_id,
            )  # fmt: skip
        assert held == 1, "the bench's accounts never run dry"
        statutory = Allocation(pot="cpf_statutory", grant_id=None, amount_cents=data.amount_cents)
        return _pending(data, hold_id, now, [statutory])


def _pending(
    data: CreateHold, hold_id: UUID, now: dt.datetime, allocations: list[Allocation]
) -> HoldView:
    """A floor's answer: the pending hold ``data`` asks for, as a hold route answers it."""
    return HoldView(
        id=hold_id,
        amount_cents=data.amount_cents,
        training_reference=data.training_reference,
        expires_at=data.expires_at,
        status="pending",
        posted_cents=None,
        created_at=now,
        closed_at=None,
        allocations=allocations,
    )
