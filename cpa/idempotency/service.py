"""Run a write once per (client, key); replay its stored response afterwards."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """A key to claim by a write that does the claim, the work and the store in one statement
    (``cpf_hold_create``), rather than through :func:`run_idempotent`'s three round trips."""

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
    *,
    client_id: str,
    key: str,
    operation: str,
    request: Any,
    now: dt.datetime,
    work: Callable[[], Awaitable[T]],
    result_type: type[T],
) -> T:
    """``work()`` once for this key; the stored result when the same request comes again."""
    if not 0 < len(key) <= KEY_LENGTH_MAX:
        raise InvalidInput("Idempotency-Key has 1 to 255 characters")
    digest = request_digest(operation, request)
    async with db.transaction():
        with domain_errors():
            claimed = await db.fetchval(
                sql("claim_idempotency_key"), client_id, key, digest, now, now + KEY_LIFETIME
            )
        if claimed is None:
            return await _replay(db, client_id, key, digest, result_type)
        result = await work()
        await db.execute(
            sql("store_idempotency_response"), client_id, key, msgspec.json.encode(result)
        )
    return result


async def _replay(
    db: Connection, client_id: str, key: str, digest: bytes, result_type: type[T]
) -> T:
    row = await db.fetchrow(sql("get_idempotency_key"), client_id, key)
    assert row is not None, "a key that could not be claimed exists"
    if bytes(row["request_sha256"]) != digest:
        raise conflict(key)
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
