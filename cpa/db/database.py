"""Where request handlers and services get a connection from.

``PoolDatabase`` is production: one pooled connection per unit of work. ``ConnectionDatabase``
hands out one given connection (serialised by a lock), so a test can run the real app inside a
transaction it rolls back afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import asyncpg

from cpa.db.outage import OUTAGE, PoolExhausted, is_outage

# A pooled connection is a proxy with the Connection interface.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


ACQUIRE_TIMEOUT_S = 2.0
"""Default of ``Settings.pool_acquire_timeout_ms``."""


class Database(Protocol):
    def acquire(self) -> AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...


class _BoundedAcquire:
    """A pooled connection within ``timeout_s`` (then ``TimeoutError``: a 503).

    ``asyncio.timeout`` rather than ``pool.acquire(timeout=…)``, which wraps every acquire
    in a task of its own (``asyncio.wait_for`` on Python 3.11) even when a connection is idle.
    """

    __slots__ = ("began", "connection", "pool", "timeout_s")

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self.pool = pool
        self.timeout_s = timeout_s
        self.connection: asyncpg.pool.PoolConnectionProxy | None = None
        self.began: float | None = None

    async def __aenter__(self) -> asyncpg.pool.PoolConnectionProxy:
        self.began = OUTAGE.started_at
        try:
            async with asyncio.timeout(self.timeout_s):
                self.connection = await self.pool.acquire()
        except TimeoutError as error:
            raise PoolExhausted(f"no pooled connection within {self.timeout_s} s") from error
        return self.connection

    async def __aexit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, *tb: object
    ) -> None:
        assert self.connection is not None
        connection, self.connection = self.connection, None
        if error is not None and is_outage(error):
            # A connection that failed us this way is not handed out again: after an abrupt
            # loss asyncpg may not know it is broken yet (seen: the next requests on it got
            # "another operation is in progress"). The pool opens a new one when needed.
            connection.terminate()
        await self.pool.release(connection)
        # Beside the reconnect in ``cpa.db.pool``: a 503 for a pool exhausted a moment starts
        # an outage that no new connection may end (``Outage.worked``).
        if error_type is None and OUTAGE.ongoing:
            OUTAGE.worked(self.began)


class PoolDatabase:
    def __init__(self, pool: asyncpg.Pool, acquire_timeout_s: float = ACQUIRE_TIMEOUT_S) -> None:
        self.pool = pool
        self.acquire_timeout_s = acquire_timeout_s

    def acquire(self) -> _BoundedAcquire:
        return _BoundedAcquire(self.pool, self.acquire_timeout_s)

    async def close(self) -> None:
        await self.pool.close()


class _SharedConnection:
    def __init__(self, owner: ConnectionDatabase) -> None:
        self.owner = owner

    async def __aenter__(self) -> asyncpg.Connection:
        await self.owner.lock.acquire()
        return self.owner.connection

    async def __aexit__(self, *exc: object) -> None:
        self.owner.lock.release()


class ConnectionDatabase:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.lock = asyncio.Lock()

    def acquire(self) -> _SharedConnection:
        return _SharedConnection(self)

    async def close(self) -> None:
        """The connection belongs to whoever made it: nothing to close here."""


@asynccontextmanager
async def transaction(database: Database) -> AsyncIterator[Connection]:
    """One connection and one transaction (a savepoint when already inside one)."""
    async with database.acquire() as connection, connection.transaction():
        yield connection
