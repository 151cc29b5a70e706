"""The batch writer of reads' journal lines (``cpa.auth.access_log.ReadAccessLog``), on a real pool
and database: lines are written in order, a clean stop loses none, lines wait while the
database refuses them, and reads are refused once too many wait."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from cpa.auth import access_log as journal_module
from cpa.auth.access_log import AccessLogBacklogFull, ReadAccessLog
from cpa.auth.principal import Principal
from cpa.config import Settings
from cpa.db.database import PoolDatabase
from cpa.db.pool import create_pool
from tests.ledger.support import new_person

SETTLE_S = 10 * journal_module.FLUSH_INTERVAL_S


@pytest.fixture
async def database(fresh_dsn: str, settings: Settings) -> AsyncIterator[PoolDatabase]:
    database = PoolDatabase(await create_pool(fresh_dsn, settings))
    yield database
    await database.close()


async def person(database: PoolDatabase) -> UUID:
    async with database.acquire() as db:
        return (await new_person(db)).id  # type: ignore[arg-type]


def reader(person_id: UUID) -> Principal:
    return Principal(
        client_id="portal-1", client_kind="portal", scopes=frozenset({"account:read"}),
        jti="j", sub="s", person_id=person_id, client_name="Mon portail",
    )  # fmt: skip


async def lines(database: PoolDatabase, person_id: UUID) -> list[asyncpg.Record]:
    async with database.acquire() as db:
        return await db.fetch(
            "select route, action, client_name, occurred_at from access_journal "
            "where person_id = $1 order by id",
            person_id,
        )


async def test_reads_are_written_in_batches_in_their_order(database: PoolDatabase) -> None:
    person_id = await person(database)
    journal = ReadAccessLog()
    journal.start(database)
    try:
        before = dt.datetime.now(dt.UTC)
        async with database.acquire() as db:
            for n in range(5):
                await journal.record(db, reader(person_id), route=f"/read/{n}")
        assert journal.waiting == 5  # nothing written by the reads themselves
        await asyncio.sleep(SETTLE_S)
        written = await lines(database, person_id)
        assert [row["route"] for row in written] == [f"/read/{n}" for n in range(5)]
        assert {(row["action"], row["client_name"]) for row in written} == {("read", "Mon portail")}
        assert all(before <= row["occurred_at"] <= dt.datetime.now(dt.UTC) for row in written)
        assert journal.waiting == 0
    finally:
        await journal.stop(database)


async def test_a_clean_stop_writes_what_waits(database: PoolDatabase) -> None:
    person_id = await person(database)
    journal = ReadAccessLog()
    journal.start(database)
    async with database.acquire() as db:
        await journal.record(db, reader(person_id), route="/read/last")
    await journal.stop(database)
    assert [row["route"] for row in await lines(database, person_id)] == ["/read/last"]


async def test_lines_wait_while_the_database_refuses_them(database: PoolDatabase) -> None:
    person_id = await person(database)
    async with database.acquire() as db:
        await db.execute("alter table access_journal rename to access_journal_away")
    journal = ReadAccessLog()
    journal.start(database)
    try:
        async with database.acquire() as db:
            await journal.record(db, reader(person_id), route="/read/kept")
        await asyncio.sleep(SETTLE_S)
        assert journal.waiting == 1
        async with database.acquire() as db:
            await db.execute("alter table access_journal_away rename to access_journal")
        await asyncio.sleep(journal_module.RETRY_DELAY_S + SETTLE_S)
        assert [row["route"] for row in await lines(database, person_id)] == ["/read/kept"]
    finally:
        await journal.stop(database)


async def test_reads_are_refused_when_too_many_lines_wait(
    database: PoolDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    person_id = await person(database)
    monkeypatch.setattr(journal_module, "BACKLOG_LINES_MAX", 2)
    journal = ReadAccessLog()
    journal.start(database)
    try:
        async with database.acquire() as db:
            await journal.record(db, reader(person_id), route="/read/1")
            await journal.record(db, reader(person_id), route="/read/2")
            with pytest.raises(AccessLogBacklogFull):
                await journal.record(db, reader(person_id), route="/read/3")
    finally:
        await journal.stop(database)
    assert len(await lines(database, person_id)) == 2


async def test_without_a_writer_a_read_is_journaled_at_once(db: asyncpg.Connection) -> None:
    """Tests and command-line tools: the line is written with the caller's connection."""
    person_id = (await new_person(db)).id
    await ReadAccessLog().record(db, reader(person_id), route="/read/now")
    assert await db.fetchval(
        "select count(*) from access_journal where person_id = $1", person_id
    ) == 1  # fmt: skip
