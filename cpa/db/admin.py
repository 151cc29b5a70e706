"""Server-level chores: create, clone and drop databases (the embedded server, the tests)."""

from __future__ import annotations

import re

import asyncpg

from cpa.db.migrations import migrate
from cpa.db.queries import sql

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return f'"{name}"'


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, pointing at another database."""
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


async def create_database(server_dsn: str, name: str, template: str = "template0") -> bool:
    """Create ``name`` (a clone of ``template``) unless it exists; True when created."""
    connection = await asyncpg.connect(server_dsn)
    try:
        if await connection.fetchval(sql("database_exists"), name):
            return False
        await connection.execute(
            sql("create_database").format(database=_ident(name), template=_ident(template))
        )
        return True
    finally:
        await connection.close()


async def drop_database(server_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(sql("drop_database").format(database=_ident(name)))
    finally:
        await connection.close()


async def migrate_database(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return await migrate(connection)
    finally:
        await connection.close()
