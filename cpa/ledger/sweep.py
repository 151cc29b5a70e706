"""The server's sweep of lapsed holds: euros held past a hold's ``expires_at`` go back to the
account without anyone asking, with their ``hold_expire`` entries (issue 5).

Each server process runs one (``HoldSweep``, started by the app's lifespan), and
``python -m cpa ledger expire`` runs one pass by hand. A pass finds the lapsed holds by one
index range (``cpf_holds_pending_expiry_idx``) and releases each in its own transaction under
the person's ledger lock, re-reading the hold first: two processes sweeping at once, or a
sweep meeting a post or a read that releases the same hold, release it once. Between sweeps a
read or a new hold that meets a lapsed hold releases it itself, so nobody sees euros locked by
a dead hold; the sweep is what puts the entries in the ledger when nobody comes by.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Callable

import asyncpg
import structlog

from cpa.db.database import Database
from cpa.ledger.holds import EXPIRY_BATCH_MAX, expire_holds

log = structlog.get_logger(__name__)

SWEEP_INTERVAL_S = 10.0
"""How long a lapsed hold may wait for the sweep (reads release it earlier)."""
SWEEP_JITTER = 0.2
"""Each wait is the interval ± 20 %, so that the processes of one server drift apart."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def sweep_lapsed_holds(database: Database, now: dt.datetime) -> int:
    """Release every hold lapsed at ``now``, a batch at a time; how many this pass released."""
    released = 0
    while True:
        async with database.acquire() as db:
            batch = await expire_holds(db, now, EXPIRY_BATCH_MAX)  # type: ignore[arg-type]
        released += batch
        if batch < EXPIRY_BATCH_MAX:
            return released


class HoldSweep:
    """A pass at start, then one every ``interval_s`` until :meth:`stop`. A pass that fails
    (the database unreachable) is logged and the next one tries again: the sweep never stops
    for an error."""

    def __init__(
        self, interval_s: float = SWEEP_INTERVAL_S, clock: Callable[[], dt.datetime] = _now
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self, database: Database) -> None:
        assert self._task is None, "one sweep per process"
        self._task = asyncio.create_task(self._run(database), name="hold-sweep")

    async def stop(self) -> None:
        """Stop between two holds (a release interrupted mid-transaction rolls back whole)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self, database: Database) -> None:
        while True:
            try:
                released = await sweep_lapsed_holds(database, self._clock())
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("hold_sweep_failed", error=type(error).__name__)
            else:
                if released:
                    log.info("holds_expired", count=released)
            jitter = random.uniform(1 - SWEEP_JITTER, 1 + SWEEP_JITTER)
            await asyncio.sleep(self._interval_s * jitter)
