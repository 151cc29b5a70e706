"""The migrations squashed into 0001_baseline before the first release: a new database gets the
baseline alone, and one migrated with the old files is refused with the reset it needs (not
migrated onto a schema it already half has)."""

from __future__ import annotations

import asyncpg
import pytest

from cpa.db.migrations import MigrationError, discover, migrate

# What main's databases recorded before the squash (0001_persons … 0009_auth_replays).
OLD_NAMES = ["persons", "auth", "ledger", "hold_function", "hold_key_once", "account_summary",
             "ledger_keys", "debit_sources", "auth_replays"]  # fmt: skip


async def test_a_new_database_records_the_baseline_only(fresh_dsn: str) -> None:
    assert discover()[0].name == "baseline"
    connection = await asyncpg.connect(fresh_dsn)
    try:
        rows = await connection.fetch("select version, name from schema_migrations")
    finally:
        await connection.close()
    assert [tuple(row) for row in rows][:1] == [(1, "baseline")]


async def test_a_database_migrated_with_the_squashed_files_is_refused(fresh_dsn: str) -> None:
    connection = await asyncpg.connect(fresh_dsn)
    try:
        await connection.execute("delete from schema_migrations")
        await connection.executemany(
            "insert into schema_migrations (version, name, checksum) values ($1, $2, 'old')",
            list(enumerate(OLD_NAMES, start=1)),
        )
        with pytest.raises(MigrationError, match="reset this development database"):
            await migrate(connection)
        assert await connection.fetchval("select count(*) from schema_migrations") == 9
    finally:
        await connection.close()
