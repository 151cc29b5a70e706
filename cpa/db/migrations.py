"""Migrations runner: ``sql/migrations/NNNN_short_name.sql`` applied in order.

Each file runs in its own transaction and is recorded with its SHA-256 in
``schema_migrations``; a file that changed after being applied is refused. An advisory lock
keeps two runners (two workers starting at once) from applying the same file twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import asyncpg
import structlog

from cpa.db.queries import SQL_DIR, sql, sql_files

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x637061  # "cpa"


class MigrationError(RuntimeError):
    """The database schema cannot be brought up to date safely."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sql_files(directory):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_short_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, got {versions}")
    return migrations


async def migrate(
    connection: asyncpg.Connection, directory: Traversable = MIGRATIONS_DIR
) -> list[str]:
    """Apply pending migrations; return the names applied."""
    migrations = discover(directory)
    await connection.execute(sql("lock_migrations"), _LOCK_KEY)
    try:
        await connection.execute(sql("create_schema_migrations"))
        applied = {
            row["version"]: (row["name"], row["checksum"])
            for row in await connection.fetch(sql("list_applied_migrations"))
        }
        done = []
        for migration in migrations:
            if migration.version in applied:
                _check_unchanged(migration, applied[migration.version])
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    sql("record_migration"),
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            done.append(f"{migration.version:04d}_{migration.name}")
        return done
    finally:
        await connection.execute(sql("unlock_migrations"), _LOCK_KEY)


def _check_unchanged(migration: Migration, applied: tuple[str, str]) -> None:
    name, checksum = applied
    if name != migration.name:  # the files were squashed (sql/migrations/0001_baseline.sql)
        raise MigrationError(
            f"this database was migrated with {migration.version:04d}_{name}.sql, which no "
            f"longer exists ({migration.version:04d}_{migration.name}.sql replaced it): reset "
            "this development database (remove .cpa/, or drop and create it) and migrate again"
        )
    if checksum != migration.checksum:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name}.sql was changed after it was "
            "applied (checksum differs): never edit an applied migration, add a new one"
        )
