"""The access journal of reads through a real ``python -m cpa serve`` (granian workers, their
lifespan, the batch writer): every read served before a clean stop is in the journal."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from cpa.db.pool import _init_connection
from tests.ledger.support import new_person
from tests.support.processes import serving
from tests.support.tokens import Minter, register_partner

READS = 40


@pytest.mark.slow
async def test_a_clean_stop_journals_every_read_served(fresh_dsn: str, tmp_path: Path) -> None:
    with serving(fresh_dsn, tmp_path, workers=WORKERS) as base_url:
        db = await asyncpg.connect(fresh_dsn)
        try:
            await _init_connection(db)
            person = await new_person(db)
            portal = await register_partner(db, "portal", "Portail test")
            minter = Minter(base_url, tmp_path)
            await minter.load_keys(db)
            token = await minter.token(db, portal, person.id, ["account:read", "cpf:read"])
        finally:
            await db.close()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            for _ in range(READS):
                assert (await http.get("/v1/me/account")).status_code == 200
    db = await asyncpg.connect(fresh_dsn)
    try:
        journaled = await db.fetchval(
            "select count(*) from access_journal where person_id = $1 and route = $2",
            person.id,
            "/v1/me/account",
        )
    finally:
        await db.close()
    assert journaled == READS


ROUNDS = 12
READS_PER_ROUND = 6
WORKERS = 2
REGISTER_WAIT_S = 30.0


async def _writers_registered(db: asyncpg.Connection, expected: int) -> int:
    """How many workers answer catch-up requests, once ``expected`` do or after a bounded wait:
    the server is ready when one worker is, and the other may still be starting."""
    deadline = time.monotonic() + REGISTER_WAIT_S
    while True:
        count: int = await db.fetchval(
            "select count(*) from access_journal_writers w join pg_stat_activity a"
            " on a.pid = w.backend_pid"
        )
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_citizen_reads_every_access_served_before_their_request(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """Issue 15 point 5, with 2 server workers: right after a partner's reads (each on a new
    connection, so both workers serve some and hold their lines in their batches), the
    citizen's ``GET /v1/me/access-log`` (on a new connection too) lists every one of them."""
    with serving(fresh_dsn, tmp_path, workers=WORKERS) as base_url:
        db = await asyncpg.connect(fresh_dsn)
        try:
            await _init_connection(db)
            person = await new_person(db)
            portal = await register_partner(db, "portal", "Portail du citoyen")
            partner = await register_partner(db, "training_body", "Organisme")
            minter = Minter(base_url, tmp_path)
            await minter.load_keys(db)
            citizen = await minter.token(db, portal, person.id, ["account:read"])
            reader = await minter.token(db, partner, person.id, ["cpf:read"])
            served = await _writers_registered(db, WORKERS)
        finally:
            await db.close()
        assert served == WORKERS, "each worker answers catch-up requests"
        waits = []
        for round_ in range(1, ROUNDS + 1):
            for _ in range(READS_PER_ROUND):
                async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                    answer = await http.get(
                        "/v1/me/account", headers={"Authorization": f"Bearer {reader}"}
                    )
                    assert answer.status_code == 200, answer.text
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                started = time.perf_counter()
                log = await http.get(
                    "/v1/me/access-log",
                    params={"limit": 100},
                    headers={"Authorization": f"Bearer {citizen}"},
                )
                waits.append(time.perf_counter() - started)
            assert log.status_code == 200, log.text
            reads = [e for e in log.json()["entries"] if e["route"] == "/v1/me/account"]
            assert len(reads) == round_ * READS_PER_ROUND, f"round {round_}"
    waits.sort()
    print(f"access-log read: median {waits[len(waits) // 2] * 1000:.1f} ms, "
          f"max {waits[-1] * 1000:.1f} ms")  # fmt: skip
