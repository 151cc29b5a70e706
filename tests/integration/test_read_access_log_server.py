"""The access journal of reads through a real ``python -m cpa serve`` (granian workers, their
lifespan, the batch writer): every read served before a clean stop is in the journal."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from cpa.db.pool import _init_connection
from tests.ledger.support import new_person
from tests.support.processes import serving
from tests.support.tokens import Minter, register_partner

READS = 40


async def test_a_clean_stop_journals_every_read_served(fresh_dsn: str, tmp_path: Path) -> None:
    with serving(fresh_dsn, tmp_path, workers=2) as base_url:
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
