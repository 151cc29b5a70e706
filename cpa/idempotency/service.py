"""Run a write once per (client, key); replay its stored response afterwards."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection, Database
from cpa.db.queries import sql
from cpa.errors import InvalidInput
from cpa.idempotency.errors import IdempotencyConflict

KEY_LIFETIME = dt.timedelta(hours=24)
KEY_LENGTH_MAX = 255
PURGE_BATCH_MAX = 10_000
KEY_PURGE_INTERVAL_S = 600.0
"""How often a server process forgets expired keys (a key outlives its 24 h by at most this)."""

T = TypeVar("T")


def request_digest(operation: str, request: Any) -> bytes:
    """What makes two requests "the same": the operation and its canonical JSON body."""
    return hashlib.sha256(operation.encode() + b"\0" + msgspec.json.encode(request)).digest()


class Replayable(NamedTuple, Generic[T]):
    """What an idempotent write answers, and whether it is the stored answer of an earlier
    request with the same key (then nothing was written: ``Idempotent-Replayed: true``)."""

    result: T
    replayed: bool


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """An ``Idempotency-Key`` to claim for one request: by :func:`run_idempotent` (three round
    trips around any work), or by a write that claims, works and stores in one statement
    (``cpf_hold_create``)."""

    client_id: str
    key: str
    request_sha256: bytes
    expires_at: dt.datetime


def claim(client_id: str, key: str, *, operation: str, request: Any, now: dt.datetime) -> Claim:
    if not 0 < len(key) <= KEY_LENGTH_MAX:
        raise InvalidInput("Idempotency-Key has 1 to 255 characters")
    digest = request_digest(operation, request)
    return Claim(client_id=client_id, key=key, request_sha256=digest, expires_at=now + KEY_LIFETIME)


def conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        "this Idempotency-Key was used for another request", idempotency_key=key
    )


async def run_idempotent(
    db: Connection,
    key: Claim,
    *,
    now: dt.datetime,
    work: Callable[[], Awaitable[T]],
    result_type: type[T],
) -> Replayable[T]:
    """``work()`` once for this key (:func:`claim`); the stored result when the same request
    comes again (``replayed``), a conflict when another one does."""
    async with db.transaction():
        row = (key.client_id, key.key, key.request_sha256, now, key.expires_at)
        with domain_errors():
            claimed = await db.fetchval(sql("claim_idempotency_key"), *row)
        if claimed is None:
            return Replayable(await _replay(db, key, result_type), replayed=True)
        result = await work()
        await db.execute(
            sql("store_idempotency_response"), key.client_id, key.key, msgspec.json.encode(result)
        )
    return Replayable(result, replayed=False)


async def _replay(db: Connection, key: Claim, result_type: type[T]) -> T:
    row = await db.fetchrow(sql("get_idempotency_key"), key.client_id, key.key)
    # No row: a hold has the key (it keeps its key in its own row): another request.
    if row is None or bytes(row["request_sha256"]) != key.request_sha256:
        raise conflict(key.key)
    return msgspec.json.decode(row["response"], type=result_type)


async def purge_idempotency_keys(database: Database, now: dt.datetime) -> int:
    """Forget keys past their lifetime, ``PURGE_BATCH_MAX`` a transaction (a day of keys can
    be millions of rows); how many. Safe in two processes at once: a key deleted by one is
    not found by the other."""
    purged = 0
    while True:
        async with database.acquire() as db:
            status = await db.execute(sql("purge_idempotency_keys"), now, PURGE_BATCH_MAX)
        batch = int(status.split()[-1])
        purged += batch
        if batch < PURGE_BATCH_MAX:
            return purged
