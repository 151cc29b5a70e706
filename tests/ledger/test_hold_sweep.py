"""The sweep of lapsed holds (``cpa.ledger.sweep``, run by ``cpa.periodic``), on a real pool
and database: lapsed holds are released with their entries while nobody reads the account,
pass after pass; two sweeps at once release each hold once; ``python -m cpa ledger expire``
runs a pass by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import pytest

from cpa.config import Settings
from cpa.db.database import PoolDatabase
from cpa.db.pool import create_pool
from cpa.ledger import create_hold, get_hold, sweep_lapsed_holds, verify_ledger
from cpa.periodic import Periodic
from tests.ledger.support import NOW
from tests.ledger.test_holds import funded, hold

PROJECT = Path(__file__).resolve().parents[2]
LAPSE = dt.timedelta(hours=1)
AFTER = NOW + 2 * LAPSE
SWEEP_INTERVAL_S = 0.05
SETTLE_S = 1.0


@pytest.fixture
async def database(fresh_dsn: str, settings: Settings) -> AsyncIterator[PoolDatabase]:
    database = PoolDatabase(await create_pool(fresh_dsn, settings))
    yield database
    await database.close()


async def holds(database: PoolDatabase, lapsing: int, lasting: int = 0) -> list[tuple[UUID, UUID]]:
    """(person, hold) pairs: ``lapsing`` holds lapse at NOW + 1 h, ``lasting`` ones a week on."""
    made = []
    async with database.acquire() as db:
        for index in range(lapsing + lasting):
            person_id = await funded(db)
            expires_at = NOW + (LAPSE if index < lapsing else dt.timedelta(days=7))
            new = await create_hold(db, person_id, hold(10_000, expires_at=expires_at), now=NOW)
            made.append((person_id, new.id))
    return made


async def statuses(database: PoolDatabase, made: list[tuple[UUID, UUID]]) -> list[str]:
    async with database.acquire() as db:
        return [(await get_hold(db, person, hold_id)).status for person, hold_id in made]


async def test_lapsed_holds_are_released_while_nobody_reads(database: PoolDatabase) -> None:
    made = await holds(database, lapsing=1, lasting=1)
    sweep = Periodic(
        sweep_lapsed_holds, event="holds_expired", interval_s=SWEEP_INTERVAL_S, clock=lambda: AFTER
    )
    sweep.start(database)
    try:
        await asyncio.sleep(SETTLE_S)
        assert await statuses(database, made) == ["expired", "pending"]
        made += await holds(database, lapsing=1)  # lapsed at once: a later pass releases it
        await asyncio.sleep(SETTLE_S)
    finally:
        await sweep.stop()
    assert await statuses(database, made) == ["expired", "pending", "expired"]
    async with database.acquire() as db:
        released = await db.fetch(
            "select person_id, pot, amount from ledger_entries where kind = 'hold_expire'"
        )
        assert sorted((r["person_id"], r["pot"], r["amount"]) for r in released) == sorted(
            (person, pot, amount)
            for person, _ in (made[0], made[2])
            for pot, amount in (("cpf_held", -10_000), ("cpf_statutory", 10_000))
        )
        assert (await verify_ledger(db)).ok  # type: ignore[arg-type]


async def test_two_sweeps_at_once_release_each_hold_once(database: PoolDatabase) -> None:
    made = await holds(database, lapsing=6)
    released = await asyncio.gather(
        sweep_lapsed_holds(database, AFTER), sweep_lapsed_holds(database, AFTER)
    )
    assert sum(released) == 6
    assert await statuses(database, made) == ["expired"] * 6
    async with database.acquire() as db:
        entries = await db.fetchval(
            "select count(*) from ledger_entries where kind = 'hold_expire'"
        )
        assert entries == 2 * 6
        assert (await verify_ledger(db)).ok  # type: ignore[arg-type]


async def test_ledger_expire_runs_one_pass(database: PoolDatabase, fresh_dsn: str) -> None:
    # The command's clock is the real one: these holds lapsed long ago (NOW is in 2026-06).
    made = await holds(database, lapsing=2)
    env = {**os.environ, "CPA_DATABASE_URL": fresh_dsn, "CPA_LOG_FORMAT": "json"}
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cpa", "ledger", "expire"],
        env=env, cwd=PROJECT, capture_output=True, check=True,
    )  # fmt: skip
    assert json.loads(run.stdout) == {"released": 2}
    assert await statuses(database, made) == ["expired", "expired"]
