"""Where request handlers and services get a connection from.

``PoolDatabase`` is production: one pooled connection per unit of work. ``ConnectionDatabase``
hands out one given connection (serialised by a lock), so a test can run the real app inside a
transaction it rolls back afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import asyncpg

# A pooled connection is a proxy with the Connection interface.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class Database(Protocol):
    def acquire(self) -> asyncpg.pool.PoolAcquireContext | _SharedConnection: ...

    async def close(self) -> None: ...


class PoolDatabase:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def acquire(self) -> asyncpg.pool.PoolAcquireContext:
        return self.pool.acquire()

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
