"""The outbox's cursor misses nothing: an event is read once its transaction and every one
before it have ended, in an order later reads only extend, whatever the commit order."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest

from cpa.db.pool import _init_connection
from cpa.errors import InvalidInput
from cpa.events import CURSOR_START, events_after, lock_subject, parse_cursor, record_event
from cpa.persons import NewPerson, NirVault, register_person
from tests.auth.support import client

VAULT = NirVault(bytes(range(32)))
NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
CLIENT = "body-events"


async def _connect(dsn: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(dsn)
    await _init_connection(connection)
    return connection


@pytest.fixture
async def connections(fresh_dsn: str) -> AsyncIterator[list[asyncpg.Connection]]:
    opened = [await _connect(fresh_dsn) for _ in range(3)]
    yield opened
    for connection in opened:
        await connection.close()


async def _setup(db: asyncpg.Connection) -> UUID:
    person = await register_person(
        db, VAULT, NewPerson(nir="180057512345627", birth_date=dt.date(1980, 5, 1))
    )
    await client(db, "training_body", client_id=CLIENT)
    return person.id


async def _record(db: asyncpg.Connection, subject: UUID, person: UUID, label: str) -> None:
    await record_event(
        db, type="dossier.changed", subject_id=subject, person_id=person,
        client_id=CLIENT, data={"label": label}, now=NOW,
    )  # fmt: skip


async def _labels(reader: asyncpg.Connection, cursor: str = CURSOR_START) -> list[str]:
    events = await events_after(reader, CLIENT, cursor, limit=100, now=NOW)
    return [event.data["label"] for event in events]


async def test_an_event_waits_for_every_earlier_transaction(
    connections: list[asyncpg.Connection],
) -> None:
    first, second, reader = connections
    person = await _setup(reader)
    slow = first.transaction()
    await slow.start()
    await first.execute("select pg_current_xact_id()")  # its transaction id comes first
    async with second.transaction():
        await _record(second, uuid4(), person, "committed first")
    # The later transaction committed, but an earlier one may still add an event before it.
    assert await _labels(reader) == []
    await _record(first, uuid4(), person, "committed second")
    await slow.commit()
    assert await _labels(reader) == ["committed second", "committed first"]


async def test_a_cursor_never_passes_an_event_committed_later(
    connections: list[asyncpg.Connection],
) -> None:
    first, second, reader = connections
    person = await _setup(reader)
    async with first.transaction():
        await _record(first, uuid4(), person, "a")
    page = await events_after(reader, CLIENT, CURSOR_START, limit=100, now=NOW)
    cursor = page[-1].cursor
    slow = first.transaction()
    await slow.start()
    await _record(first, uuid4(), person, "b (lower id, commits last)")
    async with second.transaction():
        await _record(second, uuid4(), person, "c")
    assert await _labels(reader, cursor) == []
    await slow.commit()
    assert await _labels(reader, cursor) == ["b (lower id, commits last)", "c"]


async def test_a_subject_lock_takes_no_transaction_id(
    connections: list[asyncpg.Connection],
) -> None:
    """So the subject's next transaction, waiting on it, gets a larger id: its events follow."""
    first, _, _ = connections
    async with first.transaction():
        await lock_subject(first, uuid4())
        assert await first.fetchval("select pg_current_xact_id_if_assigned()") is None


async def test_a_subject_s_events_are_numbered_in_order(
    connections: list[asyncpg.Connection],
) -> None:
    first, _, reader = connections
    person, subject = await _setup(reader), uuid4()
    for label in ("requested", "validated", "accepted"):
        async with first.transaction():
            await lock_subject(first, subject)
            await _record(first, subject, person, label)
    events = await events_after(reader, CLIENT, CURSOR_START, limit=100, now=NOW)
    assert [(e.subject_seq, e.data["label"]) for e in events] == [
        (1, "requested"), (2, "validated"), (3, "accepted"),
    ]  # fmt: skip


@pytest.mark.parametrize("cursor", ["", "1", "a-1", "1-b", "-1", "1-", "1" * 30 + "-" + "1" * 20])
def test_a_malformed_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        parse_cursor(cursor)
