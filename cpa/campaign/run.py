"""The campaign's run: a year's pass cut into chunks, worker processes crediting them.

``open_pass`` cuts the persons who declared something for the year into chunks of person ids
(once per pass, whoever asks first: a second run started meanwhile joins the same pass).
``work`` is one worker: it leases the next chunk (``for update skip locked``; the lease
expires if the worker dies), credits it in one transaction (``credit_chunk``) that also marks
it done with its figures, and goes on until no chunk is left, waiting while another worker
holds one (it may die, and its chunk come back). Workers share nothing but PostgreSQL: any
number of them, on any number of machines, finish one pass together, each chunk done once.
A stopped or killed run loses nothing: its chunk's transaction rolls back and the chunk is
leased again; the credit records make a chunk redone after a commit change nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec
import structlog

from cpa.campaign.chunks import credit_chunk
from cpa.db.database import Connection
from cpa.db.pool import _init_connection
from cpa.db.queries import sql
from cpa.ledger.crediting import check_creditable

log = structlog.get_logger(__name__)

CHUNK_PERSONS = 2_000
"""Persons per chunk: a chunk is one transaction (~0.1–0.3 s), small enough to redo."""
LEASE_SECONDS = 30.0
"""How long a chunk stays with a worker that stopped answering before another takes it."""
ATTEMPTS_MAX = 3
"""A chunk failing this many times is left failed (shown by ``campaign status``)."""
WAIT_POLL_S = 0.5
"""How often a worker with nothing to lease looks again while others hold chunks."""
WAIT_MAX_S = 3_600.0
"""A worker gives up waiting for others' chunks after this long."""
ERROR_CHARS_MAX = 500
"""A failed chunk keeps this much of its error's message (``campaign status`` shows it)."""
IDLE_IN_TRANSACTION_MIN_S = 30.0
"""A chunk's transaction idle this long (its worker hung, or the lease if longer) is ended
by the server, and its chunk comes back: far above the pauses of a chunk's computation."""


class CampaignPass(msgspec.Struct, frozen=True, kw_only=True):
    """One pass of a year's campaign: its number and the day its entries are effective."""

    year: int
    number: int
    credited_on: dt.date
    chunks_open: int


async def open_pass(
    db: Connection,
    year: int,
    *,
    today: dt.date,
    chunk_persons: int = CHUNK_PERSONS,
    again: bool = False,
) -> CampaignPass:
    """The year's pass to work on: the latest one while it has chunks to do (its failed
    chunks given another chance), else a new one when there is none yet or ``again`` (a new
    pass after corrections: unchanged persons are read and left as they are)."""
    check_creditable(year, today)
    async with db.transaction():
        await db.execute(sql("lock_campaign_passes"), year)
        current = await db.fetchrow(sql("get_campaign_pass"), year)
        if current is not None:
            await db.execute(sql("retry_failed_chunks"), year, current["pass"])
            current = await db.fetchrow(sql("get_campaign_pass"), year)
            assert current is not None, "a pass is never deleted"
            if current["chunks_open"] or not again:
                return _pass(year, current)
        number = current["pass"] + 1 if current is not None else 1
        await db.execute(sql("insert_campaign_pass"), year, number, today, chunk_persons)
        await db.execute(sql("insert_campaign_chunks"), year, number, chunk_persons)
        opened = await db.fetchrow(sql("get_campaign_pass"), year)
        assert opened is not None, "the pass just inserted"
    log.info("campaign_pass_opened", year=year, number=number, chunks=opened["chunks_open"])
    return _pass(year, opened)


def _pass(year: int, row: Any) -> CampaignPass:
    return CampaignPass(year=year, number=row["pass"], credited_on=row["credited_on"],
                        chunks_open=row["chunks_open"])  # fmt: skip


async def work(
    dsn: str,
    campaign: CampaignPass,
    *,
    worker_id: str,
    lease_seconds: float = LEASE_SECONDS,
    stopping: Callable[[], bool] = lambda: False,
    quiet: bool = False,
) -> int:
    """Credit the pass's chunks until none is left (or ``stopping()``); the chunks done.

    A transaction idle too long (``IDLE_IN_TRANSACTION_MIN_S``) is ended by the server: a
    worker that hangs while holding a chunk gives it back as a dead one would."""
    idle_ms = str(int(max(lease_seconds, IDLE_IN_TRANSACTION_MIN_S) * 1000))
    db = await asyncpg.connect(
        dsn, server_settings={"idle_in_transaction_session_timeout": idle_ms}
    )
    await _init_connection(db)  # the jsonb codec the ledger's writes expect
    done, deadline = 0, time.monotonic() + WAIT_MAX_S
    try:
        while not stopping() and time.monotonic() < deadline:
            args = (campaign.year, campaign.number, worker_id, lease_seconds)
            chunk = await db.fetchrow(sql("lease_campaign_chunk"), *args)
            if chunk is not None:
                done += await _credit_leased(db, campaign, worker_id, chunk, quiet)
                continue
            open_ = await db.fetchrow(sql("count_open_chunks"), campaign.year, campaign.number)
            assert open_ is not None, "an aggregate returns one row"
            if not open_["waiting"] and not open_["leased"]:
                break
            await asyncio.sleep(WAIT_POLL_S)  # another worker holds the rest: it may die
    finally:
        await db.close()
    return done


async def _credit_leased(
    db: Connection, campaign: CampaignPass, worker_id: str, chunk: Any, quiet: bool
) -> int:
    """One leased chunk credited and marked done in one transaction; 1 if it was."""
    key = (campaign.year, campaign.number, chunk["chunk_no"], worker_id)
    started = time.perf_counter()
    try:
        async with db.transaction():
            if await db.fetchval(sql("lock_leased_chunk"), *key) is None:
                log.warning("campaign_chunk_lost", chunk=chunk["chunk_no"])  # lease taken over
                return 0
            first, end = chunk["first_person_id"], chunk["end_person_id"]
            stats = await credit_chunk(db, campaign.year, first, end, today=campaign.credited_on)
            await db.execute(
                sql("finish_campaign_chunk"), *key, msgspec.json.encode(stats).decode()
            )
    except (asyncio.CancelledError, KeyboardInterrupt):
        await _release(db, key, None)
        raise
    except Exception as error:  # any failure of a chunk is the chunk's error
        problem = f"{type(error).__name__}: {_message(error)}"
        await _release(db, key, problem[:ERROR_CHARS_MAX])
        log.error("campaign_chunk_failed", chunk=chunk["chunk_no"], attempt=chunk["attempts"],
                  error=type(error).__name__)  # fmt: skip
        return 0
    seconds = time.perf_counter() - started
    emit = log.debug if quiet else log.info
    rate = int(stats.persons / seconds) if seconds else 0
    emit("campaign_chunk_credited", year=campaign.year, number=campaign.number,
         chunk=chunk["chunk_no"], persons=stats.persons, entries=sum(stats.entries.values()),
         seconds=round(seconds, 3), persons_per_s=rate,
         **{f"{phase}_ms": ms for phase, ms in stats.ms.items()})  # fmt: skip
    return 1


def _message(error: Exception) -> str:
    """The error's message without row data: PostgreSQL's detail (``Failing row contains
    (…)``, part of asyncpg's ``str()``) is left out."""
    if isinstance(error, asyncpg.PostgresError):
        return str(error.message)
    return str(error)


async def _release(db: Connection, key: tuple[Any, ...], problem: str | None) -> None:
    """The chunk given back (the connection may be gone: the lease then expires alone)."""
    try:
        await db.execute(sql("release_campaign_chunk"), *key, problem, ATTEMPTS_MAX)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        log.warning("campaign_chunk_release_failed", chunk=key[2])
