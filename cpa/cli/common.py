"""What every command shares: its place in the parser, a database for one command, a
connection, JSON on stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec

from cpa.config import Settings
from cpa.db.admin import create_database
from cpa.db.embedded import EmbeddedPostgres
from cpa.db.pool import _init_connection
from cpa.errors import CpaError, Unavailable

DATABASE_NAME = "cpa"

Run = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


def command(commands: Any, name: str, run: Run, help: str) -> argparse.ArgumentParser:
    """``python -m cpa … <name>``: a parser whose arguments go to ``run``."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help)
    parser.set_defaults(run=run)
    return parser


def command_group(commands: Any, name: str, help: str) -> Any:
    """``python -m cpa <name> <command>``: where the group's commands are added."""
    group = commands.add_parser(name, help=help)
    return group.add_subparsers(dest=f"{name}_command", required=True)


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(value)) + b"\n")
    sys.stdout.flush()


def embedded(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(
        settings.pgdata, settings.pg_port, cache_dir=settings.data_dir / "pgbin"
    )


class WrongDatabaseServer(CpaError, slug="wrong-database-server", status=409):
    """The PostgreSQL server reached is not the one of this data directory."""


class DatabaseNotReached(Unavailable, slug="database-unreachable"):
    """PostgreSQL could not be reached: is it running, and is its address right?"""


async def _prepare_embedded_database(pg: EmbeddedPostgres) -> str:
    await create_database(pg.dsn(), DATABASE_NAME)
    return pg.dsn(DATABASE_NAME)


async def _served_directory(pg: EmbeddedPostgres) -> str:
    connection = await asyncpg.connect(pg.dsn())
    try:
        served: str = await connection.fetchval("show data_directory")
        return served
    finally:
        await connection.close()


def _check_own_server(pg: EmbeddedPostgres) -> None:
    """Our server, never another one: refused when the server reached serves another data
    directory (a port reused by another checkout's server) rather than used in silence."""
    served = Path(asyncio.run(_served_directory(pg))).resolve()
    if served != pg.data_dir.resolve():
        raise WrongDatabaseServer(
            f"the server on port {pg.port} serves {served}, not this data directory "
            f"({pg.data_dir}): stop it, or set CPA_PG_PORT to a free port"
        )


def database_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """CPA_DATABASE_URL when set (never start a server then), else our embedded one."""
    if settings.database_url:
        return settings.database_url, None
    pg = embedded(settings)
    pg.ensure_running()
    _check_own_server(pg)
    return asyncio.run(_prepare_embedded_database(pg)), pg


@contextmanager
def one_shot_database(settings: Settings) -> Iterator[str]:
    """A database for one CLI command; an embedded server started for it is stopped after."""
    dsn, pg = database_dsn(settings)
    try:
        yield dsn
    finally:
        if pg is not None and pg.started_here:
            pg.stop()


def on_one_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``work`` on one connection to the command's database, for a command that only reads or
    writes through it (a database started for the command is stopped after)."""
    with one_shot_database(settings) as dsn:
        return asyncio.run(with_connection(dsn, work))


async def with_connection(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    connection = await asyncpg.connect(dsn)
    try:
        await _init_connection(connection)  # the server's codecs: the domains expect them
        return await work(connection)
    finally:
        await connection.close()
