"""The sweep of lapsed holds: euros held past a hold's ``expires_at`` go back to the account
without anyone asking, with their ``hold_expire`` entries (issue 5).

Each server process runs it every ``SWEEP_INTERVAL_S`` (``cpa.periodic``, wired in
``cpa.app``), and ``python -m cpa ledger expire`` runs a pass by hand. A pass finds the lapsed
holds by one index range (``cpf_holds_pending_expiry_idx``) and releases each in its own
transaction under the person's ledger lock, re-reading the hold first: two processes sweeping
at once, or a sweep meeting a post or a read that releases the same hold, release it once.
Between sweeps a read or a new hold that meets a lapsed hold releases it itself, so nobody
sees euros locked by a dead hold; the sweep puts the entries in the ledger when nobody comes.
"""

from __future__ import annotations

import datetime as dt

from cpa.db.database import Database
from cpa.ledger.holds import EXPIRY_BATCH_MAX, expire_holds

SWEEP_INTERVAL_S = 10.0
"""How long a lapsed hold may wait for the sweep (reads release it earlier)."""


async def sweep_lapsed_holds(database: Database, now: dt.datetime) -> int:
    """Release every hold lapsed at ``now``, a batch at a time; how many this pass released."""
    released = 0
    while True:
        async with database.acquire() as db:
            batch = await expire_holds(db, now, EXPIRY_BATCH_MAX)
        released += batch
        if batch < EXPIRY_BATCH_MAX:
            return released
