"""sql/schema.sql and the ordered migrations describe the same database."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from cpa.db.admin import create_database, drop_database, with_database
from cpa.db.migrations import MigrationError, discover, migrate
from cpa.db.queries import SQL_DIR, load, sql

CATALOG_QUERIES = [
    "list_catalog_columns",
    "list_catalog_constraints",
    "list_catalog_indexes",
    "list_catalog_routines",
    "list_catalog_types",
]


async def _catalog(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            name: [tuple(row) for row in await connection.fetch(sql(name))]
            for name in CATALOG_QUERIES
        }
    finally:
        await connection.close()


async def test_schema_sql_equals_migrations(server_dsn: str, run_dsn: str) -> None:
    name = "cpa_test_from_schema_" + run_dsn.rsplit("_", 1)[-1]
    await create_database(server_dsn, name)
    dsn = with_database(server_dsn, name)
    try:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute((SQL_DIR / "schema.sql").read_text())
        finally:
            await connection.close()
        from_schema = await _catalog(dsn)
    finally:
        await drop_database(server_dsn, name)
    from_migrations = await _catalog(run_dsn)
    for query in CATALOG_QUERIES:
        assert from_schema[query] == from_migrations[query], query


async def test_every_named_query_prepares(db: asyncpg.Connection) -> None:
    queries = load()
    assert queries, "no named query found"
    for query in queries.values():  # the session's staging tables the others then name
        if query.text.lower().startswith("create temporary table"):
            await db.execute(query.text)
    for query in queries.values():
        if "{" in query.text or query.text.lower().startswith("create "):
            continue  # templated DDL (database names) cannot be prepared
        await db.prepare(query.text)


async def test_migrations_are_numbered_without_gaps() -> None:
    versions = [migration.version for migration in discover()]
    assert versions == list(range(1, len(versions) + 1))


async def test_an_applied_migration_that_changed_is_refused(fresh_dsn: str, tmp_path: Path) -> None:
    for migration in discover():
        target = tmp_path / f"{migration.version:04d}_{migration.name}.sql"
        target.write_text(migration.sql + ("\n-- edited" if migration.version == 1 else ""))
    connection = await asyncpg.connect(fresh_dsn)
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(connection, tmp_path)
    finally:
        await connection.close()


async def test_migrating_twice_applies_nothing(fresh_dsn: str) -> None:
    connection = await asyncpg.connect(fresh_dsn)
    try:
        assert await migrate(connection) == []
    finally:
        await connection.close()
