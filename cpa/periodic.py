"""Jobs each server process runs on its own every so often (wired in ``cpa.app``): releasing
lapsed holds, forgetting idempotency keys and OAuth rows past their lifetime.

A job is ``job(database, now) -> how many rows it handled``; it must be safe to run in two
processes at once (each job says why it is). A run that fails (the database unreachable) is
logged (an outage once, by ``cpa.db.outage``) and the next one tries again: a job never stops
for an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from cpa.db.database import Database
from cpa.db.outage import OUTAGE, is_outage

log = structlog.get_logger(__name__)

JITTER = 0.2
"""Each wait is the interval ± 20 %, so that the processes of one server drift apart."""

Job = Callable[[Database, dt.datetime], Awaitable[int]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Periodic:
    """``job`` once at :meth:`start`, then every ``interval_s`` until :meth:`stop`; logs
    ``event`` with the count when a run handled something."""

    def __init__(
        self,
        job: Job,
        *,
        event: str,
        interval_s: float,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._job = job
        self._event = event
        self._interval_s = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self, database: Database) -> None:
        assert self._task is None, "started once"
        self._task = asyncio.create_task(self._run(database), name=self._event)

    async def stop(self) -> None:
        """Cancel the job where it waits: its transaction in flight, if any, rolls back."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self, database: Database) -> None:
        while True:
            try:
                count = await self._job(database, self._clock())
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                if is_outage(error):
                    OUTAGE.begin(error)  # told once for the outage, not once per job and run
                else:
                    log.warning("periodic_job_failed", job=self._event, error=type(error).__name__)
            else:
                if count:
                    log.info(self._event, count=count)
            await asyncio.sleep(self._interval_s * random.uniform(1 - JITTER, 1 + JITTER))
