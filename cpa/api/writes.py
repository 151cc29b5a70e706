"""What every POST that changes a person's account shares: ``Idempotency-Key``, provenance,
the access-journal line and the transaction.

A write runs once per (client, key) through :func:`cpa.idempotency.run_idempotent`: the same
key with the same request answers the stored response and writes nothing (no entry, no
journal line); the same key with another request is a 409 ``idempotency-conflict`` problem.
Without a key the write simply runs in a transaction of its own. The operation named in the
digest includes the person and the path, so one key reused by a client on two persons or two
holds is a conflict, never another person's answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.params import HeaderParameter

from cpa.auth.access_log import record_access
from cpa.auth.principal import Principal
from cpa.db.database import Connection
from cpa.errors import InvalidInput
from cpa.idempotency import run_idempotent
from cpa.provenance import Provenance

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

IDEMPOTENCY_KEY_LENGTH_MAX = 255

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_LENGTH_MAX,
        description=(
            "Repeat the request safely: the same key with the same body answers the first "
            "response again and writes nothing; with another body, a 409 problem. Keys are "
            "per client and live 24 h."
        ),
        required=False,
    ),
]


async def strictly(request: Request[Any, Any, Any], data: S) -> S:
    """``data`` decoded again without coercion: Litestar converts JSON bodies leniently
    (``"100"`` becomes ``100``), and an amount of money sent as a string is refused here.
    The body is already in memory; the second decode costs microseconds."""
    try:
        return msgspec.json.decode(await request.body(), type=type(data), strict=True)
    except msgspec.ValidationError as error:
        raise InvalidInput(str(error), errors=[{"field": "$", "message": str(error)}]) from None


def provenance(principal: Principal, key: str | None) -> Provenance:
    """Who causes the write, as the ledger records it on every entry."""
    return Provenance(client_id=principal.client_id, token_jti=principal.jti, idempotency_key=key)


async def run_once(
    request: Request[Any, Any, Any],
    principal: Principal,
    key: str | None,
    *,
    operation: str,
    asked: Any,
    now: dt.datetime,
    route: str | None,
    work: Callable[[Connection], Awaitable[T]],
    result_type: type[T],
) -> T:
    """``work(db)`` in one transaction, at most once per idempotency key when one is given.

    ``route`` (the person's access-journal line) is written first, before ``work`` takes the
    person's lock; ``None`` when ``work`` journals the persons it touched itself.
    """

    async def journaled() -> T:
        if route is not None:
            await record_access(db, principal, route=route, action="change")
        return await work(db)

    async with request.app.state.db.acquire() as db:
        if key is None:
            async with db.transaction():
                return await journaled()
        return await run_idempotent(
            db,
            client_id=principal.client_id,
            key=key,
            operation=operation,
            request=asked,
            now=now,
            work=journaled,
            result_type=result_type,
        )
