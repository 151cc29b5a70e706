"""The periodic jobs run in a real ``python -m cpa serve`` (``cpa.app`` wires them): what
lapsed or expired while the server was down is dealt with when it starts, without any
request — a lapsed hold released, an expired idempotency key and authorization code gone."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from cpa.db.pool import _init_connection
from cpa.ledger import create_hold, get_hold
from tests.ledger.support import NOW
from tests.ledger.test_holds import funded, hold
from tests.support.processes import serving

FIRST_PASS_S = 2.0
"""The first run of each job is as each worker starts: well within this once it answers."""


@pytest.mark.slow
async def test_what_lapsed_while_the_server_was_down_is_dealt_with_at_start(
    fresh_dsn: str, tmp_path: Path
) -> None:
    db = await asyncpg.connect(fresh_dsn)
    try:
        await _init_connection(db)
        person_id = await funded(db)
        lapsed = await create_hold(db, person_id, hold(10_000, expires_at=NOW.replace(hour=10)),
                                   now=NOW)  # fmt: skip
        await db.execute(
            "insert into idempotency_keys values ('client', 'key', '\\x00', '\\x00', $1, $2)",
            NOW - dt.timedelta(hours=24), NOW,
        )  # fmt: skip
        await db.execute("insert into client_assertion_jtis values ('client', 'jti', $1)", NOW)
    finally:
        await db.close()
    with serving(fresh_dsn, tmp_path):
        await asyncio.sleep(FIRST_PASS_S)
    db = await asyncpg.connect(fresh_dsn)
    try:
        assert (await get_hold(db, person_id, lapsed.id)).status == "expired"
        assert await db.fetchval("select count(*) from idempotency_keys") == 0
        assert await db.fetchval("select count(*) from client_assertion_jtis") == 0
    finally:
        await db.close()
