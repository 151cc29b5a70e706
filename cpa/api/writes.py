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

from litestar.params import HeaderParameter

from cpa.api.call import Call
from cpa.auth.access_log import record_access
from cpa.db.database import Connection
from cpa.idempotency import claim, run_idempotent

T = TypeVar("T")

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


async def run_once(
    call: Call,
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
            await record_access(db, call.principal, route=route, action="change")
        return await work(db)

    async with call.db.acquire() as db:
        if key is None:
            async with db.transaction():
                return await journaled()
        claimed = claim(call.principal.client_id, key, operation=operation, request=asked, now=now)
        return await run_idempotent(db, claimed, now=now, work=journaled, result_type=result_type)
