"""What every POST that changes a person's account shares: ``Idempotency-Key``, provenance,
the access-journal line and the transaction.

A write that moves money (holds, C2P conversions, dossier actions) requires a key: without
one it is a 428 ``idempotency-key-required`` problem (:class:`IdempotencyKeyRequired` says
why 428). It runs once per (client, key) through :func:`cpa.idempotency.run_idempotent`: the
same key with the same request answers the stored response, marked
``Idempotent-Replayed: true``, and writes nothing (no entry, no journal line); the same key
with another request is a 409 ``idempotency-conflict`` problem. The operation named in the
digest includes the person and the path, so one key reused by a client on two persons or two
holds is a conflict, never another person's answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.auth.access_log import record_access
from cpa.db.database import Connection
from cpa.errors import CpaError
from cpa.idempotency import (
    IdempotencyConflict,
    IdempotencyKeyRequired,
    Replayable,
    claim,
    run_idempotent,
)
from cpa.provenance import Provenance

T = TypeVar("T")

IDEMPOTENCY_KEY_LENGTH_MAX = 255


def _key_header(description: str, *, required: bool) -> HeaderParameter:
    return HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_LENGTH_MAX,
        description=description,
        required=required,
    )


IdempotencyKey = Annotated[
    str | None,
    _key_header(
        "Repeat the request safely: the same key with the same body answers the first "
        "response again and writes nothing; with another body, a 409 problem. Keys are "
        "per client and live 24 h.",
        required=False,
    ),
]
"""The key of a write that moves no money (linking a service, a declaration): optional."""
MoneyIdempotencyKey = Annotated[
    str | None,
    _key_header(
        "Required: this request moves money. Repeat the request safely: the same key with "
        "the same body answers the first response again (`Idempotent-Replayed: true`) and "
        "writes nothing; with another body, a 409 problem. Keys are per client and live "
        "24 h. Missing: a 428 `idempotency-key-required` problem.",
        required=True,  # documented so; checked by required_key, which answers 428, not 400
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_DOC = ResponseHeader(
    name=REPLAYED_HEADER,
    description="`true` when this is the stored answer of an earlier request with this key",
    required=False,
    documentation_only=True,
)
LOCATION_DOC = ResponseHeader(
    name="Location", description="The created resource", documentation_only=True
)


def money_write(
    opt: dict[str, Any], *errors: type[CpaError], created: bool = False, description: str = ""
) -> dict[str, Any]:
    """A money-moving POST's documentation, said once for all of them: its guard and problems
    (``errors``, then the key's: missing, 428; reused with another body, 409), the
    ``Idempotent-Replayed`` header of its answers and, for a ``created`` resource, 201 with its
    ``Location``: ``@post("/", operation_id=…, summary=…, **money_write(requires("x"), E))``.
    The handler takes ``idempotency_key: MoneyIdempotencyKey`` and checks it with
    :func:`required_key`."""
    return {
        **doc(opt, *errors, IdempotencyKeyRequired, IdempotencyConflict, description=description),
        "status_code": 201 if created else 200,
        "response_headers": [LOCATION_DOC, REPLAYED_DOC] if created else [REPLAYED_DOC],
    }


def required_key(key: str | None) -> str:
    """The request's ``Idempotency-Key``; a 428 problem without one."""
    if key is None:
        raise IdempotencyKeyRequired(
            "send an Idempotency-Key header (1 to 255 characters) with this request"
        )
    return key


def provide_money_key(call: Caller, idempotency_key: MoneyIdempotencyKey = None) -> str:
    """The ``key`` dependency: a money-moving handler takes ``key: MoneyKey`` and never runs
    without one (the header is documented as required; missing, a 428 problem, not a 400).

    It takes ``call`` so that Litestar resolves it after the caller, not beside it: a
    handler's dependencies that do not depend on each other are resolved concurrently, in an
    anyio task group spawning one task each: ~95 µs of a hold's CPU for two plain functions
    (in-process ASGI calls, issue 16). A key is the caller's: the guard admitted ``call``."""
    del call  # only orders the resolution (see above)
    return required_key(idempotency_key)


MoneyKey = NamedDependency[str]
"""The handler parameter ``key: MoneyKey``, provided by :func:`provide_money_key`."""


def answer(done: Replayable[T], *, status: int = 200, location: str | None = None) -> Response[T]:
    """The response of a money-moving write: ``Idempotent-Replayed`` on a replay, ``Location``
    on a creation (the replay of a creation names the same resource)."""
    headers = {"Location": location} if location is not None else {}
    if done.replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(done.result, status_code=status, headers=headers)


async def run_once(
    call: Call,
    key: str | None,
    *,
    operation: str,
    asked: Any,
    now: dt.datetime,
    route: str | None,
    work: Callable[[Connection, Provenance], Awaitable[T]],
    result_type: type[T],
) -> Replayable[T]:
    """``work(db, by)`` in one transaction, at most once per idempotency key when one is
    given (a money-moving route has checked it with :func:`required_key`); ``by`` is the
    provenance every entry it writes records (the caller's client, token and this key).

        ``route`` (the person's access-journal line) is written first, before ``work`` takes the
        person's lock; ``None`` when ``work`` journals the persons it touched itself.
    """

    async def journaled() -> T:
        if route is not None:
            await record_access(db, call.principal, route=route, action="change")
        return await work(db, call.provenance(key))

    async with call.db.acquire() as db:
        if key is None:
            async with db.transaction():
                return Replayable(await journaled(), replayed=False)
        claimed = claim(call.principal.client_id, key, operation=operation, request=asked, now=now)
        return await run_idempotent(db, claimed, now=now, work=journaled, result_type=result_type)
