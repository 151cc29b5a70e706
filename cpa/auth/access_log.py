"""The access journal: every read or change of a person's data by a partner, for the person.

A change appends its line inside its own transaction, with the connection it already holds
(the line exists exactly when the change committed)::

    async with transaction(request.app.state.db) as db:
        await link_service(db, ...)
        await record_access(db, principal, route="/v1/me/services/links", action="change")

A read hands its line to the process's :class:`ReadAccessLog` once the data is read, which
writes the lines of all reads in batches (issue 4 allows "batch or same-transaction insert"):
a journal line inserted by the read made every read a write transaction, with its own
transaction id and commit record, ~60 µs of PostgreSQL time against ~50 µs for the whole
read of an account (measured with pgbench; issue 5 wants the account read within 90 % of a
one-query endpoint)::

    account = await get_account(db, ...)
    await request.app.state.read_journal.record(db, principal, route="/v1/me/account")

A person reading their journal still sees every access completed before their request (issue
15 point 5), without a write on the reads' path: the reader takes a number and notifies every
server process (``LISTEN``/``NOTIFY`` on ``cpa_access_journal_catch_up``); each writes the
lines it holds at once and records the number (``access_journal_writers``); the reader waits
until every live process has (:meth:`ReadAccessLog.catch_up`, a few milliseconds). A line held
when the notification arrives was held before the reader asked, so it is written before the
reader reads; a process gone (its listening backend gone) is not waited for: a kill -9 loses
its waiting lines anyway (``FLUSH_INTERVAL_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec
import structlog

from cpa.auth.principal import Principal
from cpa.db.database import Connection, Database
from cpa.db.queries import sql
from cpa.errors import Unavailable

log = structlog.get_logger(__name__)

FLUSH_INTERVAL_S = 0.1
"""How long a read's line may wait in memory: what a kill -9 of a worker can lose (a clean
stop writes them all). The lines of changes are never at risk: they commit with the change."""
BATCH_LINES_MAX = 2_000
BACKLOG_LINES_MAX = 100_000
"""Past this many lines waiting (the database refuses them), reads are refused: no read
leaves the service without its line on the way to the journal."""
RETRY_DELAY_S = 0.5
CATCH_UP_CHANNEL = "cpa_access_journal_catch_up"
CATCH_UP_WAIT_MAX_S = 2.0
"""How long a reader of a journal waits for the processes to write what they hold, then is
refused (503: the journal cannot be written, so it cannot be complete)."""
CATCH_UP_POLL_S = 0.003
LISTEN_RETRY_S = 1.0
"""How soon a process listens again after its listening connection was lost."""

Action = Literal["read", "change", "lookup"]


class AccessEntry(msgspec.Struct, kw_only=True):
    id: int
    occurred_at: dt.datetime
    client_id: str
    client_kind: str
    client_name: str
    advisor_id: str | None
    purpose: str | None
    action: str
    route: str


def access_log_fields(principal: Principal, action: Action, route: str) -> list[str | None]:
    """Who touched the data, and how, as an access journal line records it (client id, kind,
    name, advisor id, purpose, action, route): the one spelling of these columns, for
    ``record_access``, the read journal and ``create_hold`` (which writes its line in its
    own statement)."""
    return [
        principal.client_id,
        principal.client_kind,
        principal.client_name,
        principal.advisor_id,
        principal.purpose,
        action,
        route,
    ]


async def record_access(
    db: Connection,
    principal: Principal,
    *,
    route: str,
    action: Action = "read",
    person_id: UUID | None = None,
) -> None:
    """Append one access by ``principal`` to the journal of the person it touched.

    ``person_id`` defaults to the token's person; advisor routes pass the looked-up person
    (the advisor id and purpose then come from the principal's advisor access).
    """
    person = person_id or principal.person_id
    assert person is not None, "an access journal entry names the person whose data was touched"
    await db.execute(
        sql("insert_access_journal_entry"), person, *access_log_fields(principal, action, route)
    )


async def list_access(
    db: Connection, person_id: UUID, *, before_id: int, limit: int
) -> list[AccessEntry]:
    rows = await db.fetch(sql("list_access_journal"), person_id, before_id, limit)
    return [AccessEntry(**dict(row)) for row in rows]


def read_access_log(request: Any) -> ReadAccessLog:
    """The process's :class:`ReadAccessLog` (``app.state.read_journal``, set by create_app)."""
    journal: ReadAccessLog = request.app.state.read_journal
    return journal


class AccessLogBacklogFull(Unavailable, slug="access-journal-unavailable"):
    """The access journal cannot be written: reads are refused until it can."""


class AccessLogBehind(Unavailable, slug="access-journal-behind"):
    """The access journal is not yet complete: try again in a moment."""


Listen = Callable[[], Awaitable[asyncpg.Connection]]
"""Opens the connection a process listens on for catch-up requests (not a pooled one: it
stays ``LISTEN``-ing for the process's life)."""


def journal_listener(dsn: str, timeout_s: float) -> Listen:
    """A :data:`Listen` opening a connection of its own to ``dsn``."""

    async def connect() -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            dsn, timeout=timeout_s, server_settings={"application_name": "cpa-journal-listener"}
        )
        return connection

    return connect


async def catch_up(db: Connection) -> None:
    """Return once every live process has written the read lines it held when this was called
    (see the module doc); :class:`AccessLogBehind` after ``CATCH_UP_WAIT_MAX_S``."""
    number = await db.fetchval(sql("request_access_journal_catch_up"))
    deadline = time.monotonic() + CATCH_UP_WAIT_MAX_S
    while await db.fetchval(sql("count_access_journal_writers_behind"), number):
        if time.monotonic() > deadline:
            log.warning("access_journal_behind", waited_s=CATCH_UP_WAIT_MAX_S)
            raise AccessLogBehind()
        await asyncio.sleep(CATCH_UP_POLL_S)


_Line = tuple[UUID, dt.datetime, str, str, str, str | None, str | None, str, str]


class ReadAccessLog:
    """The lines of reads, written in batches (see the module doc).

    The first line to wait schedules a write FLUSH_INTERVAL_S later, which takes every line
    waiting by then: one statement per interval under any load, and no timer at all while
    nobody reads. Until :meth:`start` (tests, command-line tools) a line is written at once,
    with the caller's connection, as a change's line is.
    """

    def __init__(self) -> None:
        self._lines: list[_Line] = []
        self._database: Database | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()  # batches written one at a time, in their order
        self._listening: asyncio.Task[None] | None = None
        self._asked = 0  # the largest catch-up number notified
        self._recorded = 0  # lines handed to the batches so far
        self._written = 0  # …of which written (in the same order: one batch at a time)
        self._catching_up: asyncio.Task[None] | None = None

    async def record(
        self,
        db: Connection,
        principal: Principal,
        *,
        route: str,
        person_id: UUID | None = None,
    ) -> None:
        """Journal one read by ``principal`` of the person it touched (see ``record_access``)."""
        if self._database is None:
            await record_access(db, principal, route=route, person_id=person_id)
            return
        if len(self._lines) >= BACKLOG_LINES_MAX:
            raise AccessLogBacklogFull()
        person = person_id or principal.person_id
        assert person is not None, "an access journal entry names the person whose data was read"
        fields = access_log_fields(principal, "read", route)
        self._lines.append((person, dt.datetime.now(dt.UTC), *fields))  # type: ignore[arg-type]
        self._recorded += 1
        self._schedule(FLUSH_INTERVAL_S)

    def start(self, database: Database, listen: Listen | None = None) -> None:
        """Batch from now on; with ``listen``, answer the catch-up requests of journal readers
        (a server process always does; a test or a tool writing at once needs not)."""
        self._database = database
        if listen is not None:
            self._listening = asyncio.create_task(self._listen(listen), name="read-journal-listen")

    async def stop(self, database: Database) -> None:
        """Write what waits and stop batching (a clean stop loses no line)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        self._database = None
        while self._lines:
            await self._flush(database)
        for task in (self._catching_up, self._listening):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _listen(self, listen: Listen) -> None:
        """Keep one connection listening for catch-up requests, registered as a writer."""
        while True:
            try:
                connection = await listen()
            except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                log.debug("access_journal_listen_failed", error=type(error).__name__)
                await asyncio.sleep(LISTEN_RETRY_S)
                continue
            try:
                await self._serve_catch_ups(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.debug("access_journal_listen_lost", error=type(error).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=1))
            await asyncio.sleep(LISTEN_RETRY_S)

    async def _serve_catch_ups(self, connection: asyncpg.Connection) -> None:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ended(_c: Any) -> None:
            if not lost.done():
                lost.set_result(None)

        def asked(_c: Any, _pid: int, _channel: str, payload: object) -> None:
            self._asked = max(self._asked, int(str(payload)))
            if self._catching_up is None or self._catching_up.done():
                self._catching_up = asyncio.create_task(self._catch_up(connection))

        connection.add_termination_listener(ended)
        await connection.add_listener(CATCH_UP_CHANNEL, asked)
        try:
            await connection.execute(sql("register_access_journal_writer"))
            await lost  # until the connection is lost, or the task cancelled at stop
        finally:
            if not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.execute(sql("unregister_access_journal_writer"))

    async def _catch_up(self, connection: asyncpg.Connection) -> None:
        """Write every line held now, then say so, for the largest number asked meanwhile."""
        database = self._database
        while database is not None:
            number, held = self._asked, self._recorded
            try:
                # Each flush first waits for the batch being written; a batch that failed is
                # back in front of the lines and taken again. Lines recorded after the
                # request came need not wait for it.
                while self._written < held and await self._flush(database):
                    pass
                await connection.execute(sql("mark_access_journal_caught_up"), number)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("access_journal_not_written", waiting=len(self._lines),
                            error=type(error).__name__)  # fmt: skip
                return  # the reader waits, then is refused; the next request tries again
            if self._asked == number:
                return

    @property
    def waiting(self) -> int:
        return len(self._lines)

    def _schedule(self, delay_s: float) -> None:
        if self._timer is None and self._writing is None:
            self._timer = asyncio.get_running_loop().call_later(delay_s, self._write)

    def _write(self) -> None:
        self._timer = None
        self._writing = asyncio.create_task(self._write_waiting(), name="read-journal")

    async def _write_waiting(self) -> None:
        """Every line waiting now; lines of reads served meanwhile go with the next batch."""
        assert self._database is not None
        delay_s = FLUSH_INTERVAL_S
        try:
            waiting = len(self._lines)
            while waiting > 0:
                written = await self._flush(self._database)
                if not written:  # a catch-up wrote them meanwhile
                    break
                waiting -= written
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning(
                "access_journal_not_written", waiting=len(self._lines), error=type(error).__name__
            )
            delay_s = RETRY_DELAY_S
        finally:
            self._writing = None
        if self._lines and self._database is not None:
            self._schedule(delay_s)

    async def _flush(self, database: Database) -> int:
        async with self._flushing:
            batch = self._lines[:BATCH_LINES_MAX]
            del self._lines[:BATCH_LINES_MAX]
            if not batch:
                return 0
            try:
                async with database.acquire() as db:
                    await db.execute(sql("insert_access_journal_lines"), *zip(*batch, strict=True))
            except BaseException:
                self._lines[:0] = batch  # written by the next try, in the same order
                raise
            self._written += len(batch)
            return len(batch)
