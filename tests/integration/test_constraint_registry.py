"""The constraint registry names real constraints (``cpa.db.constraints``)."""

from __future__ import annotations

import asyncpg

import cpa.app  # noqa: F401  (every domain registers its constraints when imported)
from cpa.db import constraints


async def test_every_registered_constraint_exists(db: asyncpg.Connection) -> None:
    """A constraint renamed in a migration must be renamed in its domain's registration (a
    trigger raising an error names itself as the constraint)."""
    rows = await db.fetch(
        "select conname as name from pg_constraint union select tgname from pg_trigger"
    )
    names = {row["name"] for row in rows}
    assert not [name for name in constraints._BY_NAME if name not in names]
    for suffix in constraints._BY_SUFFIX:
        assert any(name.endswith(suffix) for name in names), suffix
