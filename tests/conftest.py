"""The shared, boring database fixtures.

One PostgreSQL server per test run (our embedded launcher, ``fsync=off``), or the server of
``CPA_DATABASE_URL`` when set (then none is started). A template database is migrated once;
the run's database is cloned from it, and each test runs inside a transaction that is rolled
back. Tests that must commit (concurrency, crash recovery) ask for ``fresh_dsn``: a clone of
their own, dropped afterwards. The app is driven in the test's own event loop with
``httpx.ASGITransport`` (Litestar's AsyncTestClient runs another loop and would break the
shared asyncpg connection).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from cpa.app import create_app
from cpa.config import Settings, from_environ
from cpa.db.admin import create_database, drop_database, migrate_database, with_database
from cpa.db.database import ConnectionDatabase
from cpa.db.embedded import EmbeddedPostgres
from cpa.db.pool import _init_connection

RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
TEST_PG_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run first, in their order: pytest-xdist deals the first quarter of
    the tests out one by one, so the long ones run side by side from the start instead of one
    of them keeping a worker busy after the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """DSN of the test server's maintenance database ('postgres')."""
    external = os.environ.get("CPA_DATABASE_URL")
    if external:
        yield with_database(external, "postgres")
        return
    data_dir = Path(tempfile.mkdtemp(prefix="cpa-test-pg-"))
    pg = EmbeddedPostgres(
        data_dir, _free_port(), cache_dir=Path(".cpa/pgbin"), settings=TEST_PG_SETTINGS
    )
    pg.ensure_running()
    try:
        yield pg.dsn()
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_name(server_dsn: str) -> AsyncIterator[str]:
    name = f"cpa_test_template_{RUN_ID}"
    await create_database(server_dsn, name)
    await migrate_database(with_database(server_dsn, name))
    yield name
    await drop_database(server_dsn, name)


@pytest.fixture(scope="session")
async def run_dsn(server_dsn: str, template_name: str) -> AsyncIterator[str]:
    """The run's database, cloned from the migrated template."""
    name = f"cpa_test_run_{RUN_ID}"
    await create_database(server_dsn, name, template=template_name)
    yield with_database(server_dsn, name)
    await drop_database(server_dsn, name)


@pytest.fixture(scope="session")
async def session_connection(run_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(run_dsn)
    await _init_connection(connection)
    yield connection
    await connection.close()


@pytest.fixture
async def db(session_connection: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction rolled back after the test."""
    transaction = session_connection.transaction()
    await transaction.start()
    try:
        yield session_connection
    finally:
        await transaction.rollback()


@pytest.fixture
async def fresh_dsn(server_dsn: str, template_name: str) -> AsyncIterator[str]:
    """A database of the test's own, for tests that must commit."""
    name = f"cpa_test_{RUN_ID}_{secrets.token_hex(4)}"
    await create_database(server_dsn, name, template=template_name)
    yield with_database(server_dsn, name)
    await drop_database(server_dsn, name)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("cpa-data")
    return msgspec.structs.replace(
        from_environ({}), data_dir=data_dir, log_format="json", database_url=None
    )


@pytest.fixture
async def client(db: asyncpg.Connection, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, on the test's transaction, in the test's event loop."""
    app = create_app(settings, database=ConnectionDatabase(db))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cpa.test") as http:
        yield http
