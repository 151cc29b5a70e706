"""`python -m cpa credit --year N` killed with SIGKILL, then re-run: same ledger as one run."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import asyncpg
import pytest

from cpa.db.admin import create_database, drop_database, with_database
from cpa.declarations import ExposureDeclaration, declare_activities, declare_exposures
from tests.ledger.support import FULL_TIME, TODAY, activity_line, new_person
from tests.support.processes import PROJECT, cpa_env

PERSONS = 600
YEAR = 2024
KILL_AFTER_CREDITED = 60

LEDGER = """
select person_id, pot, grant_id, kind, amount, unit, effective_on, credit_year, rule_id,
       legal_reference, declaration_id, trace
from ledger_entries order by person_id, pot, kind, amount
"""
CREDITS = "select * from ledger_credits order by person_id, year, account"
BALANCES = "select * from ledger_balances order by person_id, pot"


async def _populate(dsn: str) -> None:
    db = await asyncpg.connect(dsn)
    try:
        persons = [await new_person(db) for _ in range(PERSONS)]
        lines = [
            activity_line(p.id, YEAR, FULL_TIME * (1 + i % 10) // 10) for i, p in enumerate(persons)
        ]
        await declare_activities(db, lines, today=TODAY)
        exposures = [
            ExposureDeclaration(
                person_id=p.id,
                year=YEAR,
                contract_ref="C",
                factors={"night_work": 130},
                contract_start=dt.date(2024, 1, 1),
                contract_end=dt.date(2024, 12, 31),
            )
            for p in persons[::7]
        ]
        await declare_exposures(db, exposures, today=TODAY)
    finally:
        await db.close()


def _credit(dsn: str) -> subprocess.Popen[bytes]:
    env = cpa_env(database_url=dsn)
    return subprocess.Popen(
        [sys.executable, "-m", "cpa", "credit", "--year", str(YEAR), "--today", TODAY.isoformat()],
        env=env, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _snapshot(dsn: str) -> tuple[list[tuple[object, ...]], ...]:
    db = await asyncpg.connect(dsn)
    try:
        snapshot = []
        for query in (LEDGER, CREDITS, BALANCES):
            snapshot.append([tuple(row) for row in await db.fetch(query)])
        return tuple(snapshot)
    finally:
        await db.close()


async def _count_credited(dsn: str) -> int:
    db = await asyncpg.connect(dsn)
    try:
        return int(await db.fetchval("select count(distinct person_id) from ledger_credits"))
    finally:
        await db.close()


@pytest.mark.slow
async def test_a_killed_campaign_rerun_gives_the_same_ledger(
    server_dsn: str, fresh_dsn: str
) -> None:
    await _populate(fresh_dsn)
    twin = fresh_dsn.rsplit("/", 1)[1] + "_twin"
    await create_database(server_dsn, twin, template=fresh_dsn.rsplit("/", 1)[1])
    twin_dsn = with_database(server_dsn, twin)
    try:
        uninterrupted = _credit(twin_dsn)
        assert await asyncio.to_thread(uninterrupted.wait, 120) == 0

        killed = _credit(fresh_dsn)
        started = time.monotonic()
        while await _count_credited(fresh_dsn) < KILL_AFTER_CREDITED:
            assert killed.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() - started < 60
            await asyncio.sleep(0.01)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        credited = await _count_credited(fresh_dsn)
        assert credited < PERSONS, "the kill landed after the end of the run"

        rerun = _credit(fresh_dsn)
        assert await asyncio.to_thread(rerun.wait, 120) == 0
        assert await _snapshot(fresh_dsn) == await _snapshot(twin_dsn)
        verify = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cpa", "ledger", "verify"],
            env=cpa_env(database_url=fresh_dsn),
            cwd=PROJECT,
            capture_output=True,
            check=False,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        await drop_database(server_dsn, twin)
