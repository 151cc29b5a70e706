"""The embedded PostgreSQL runs with checkpoints spaced for a write-heavy ledger (issue 16)."""

from __future__ import annotations

import asyncpg

from cpa.db.embedded import WRITE_HEAVY_SETTINGS


async def test_the_embedded_server_spaces_its_checkpoints(db: asyncpg.Connection) -> None:
    """The test cluster is an embedded one (tests/conftest.py): what it runs with is what a
    fresh ``make run`` gets, bar the test-only durability settings."""
    running = {name: await db.fetchval(f"show {name}") for name in WRITE_HEAVY_SETTINGS}
    assert running == {name: value.strip("'") for name, value in WRITE_HEAVY_SETTINGS.items()}
