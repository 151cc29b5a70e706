"""What the authorization server keeps only until it expires, forgotten afterwards: unused
authorization codes, pushed authorization requests, client assertion ids and revocations.

Each server process purges them every ``PURGE_INTERVAL_S`` (``cpa.periodic``, wired in
``cpa.app``). Two processes purging at once is harmless: a row deleted by one is not found by
the other. Consents, refresh tokens, advisor lookups and the access journal are kept: they
are the record of who was allowed what, and when.
"""

from __future__ import annotations

import datetime as dt

from cpa.db.database import Database
from cpa.db.queries import sql

PURGE_INTERVAL_S = 600.0


async def purge_expired_auth_rows(database: Database, now: dt.datetime) -> int:
    """Delete the rows expired at ``now``; how many. These tables hold minutes of rows (codes
    live 60 s, assertions and revoked tokens 5 min), so one statement is enough."""
    async with database.acquire() as db:
        return int(await db.fetchval(sql("purge_expired_auth_rows"), now))
