"""Killing any worker of a campaign at any moment loses nothing and duplicates nothing (issue 14),
beyond the two kills of tests/campaign/test_run.py: a run with two workers is killed again and
again at seeded random moments (``kill -9`` of the worker holding a chunk, or of the whole run),
then run to its end; its ledger equals the ledger of an uninterrupted run on a copy of the same
input, entry for entry. Bounded: ``ROUNDS`` kills, each within ``WAIT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

from cpa.db.admin import create_database, drop_database, with_database
from tests.campaign.test_run import (
    YEAR,
    _chunks,
    _ledger,
    _populate,
    _report,
    _run,
    _start,
    _verify,
    _wait_for,
)

ROUNDS = 6
SEED = 14


def _workers_of(run: subprocess.Popen[bytes], chunks: list[Any]) -> list[int]:
    """The workers of ``run`` holding a leased chunk. A chunk may still be leased by a worker
    of a run killed in an earlier round (its lease not yet expired): that pid is gone, or
    already another process's, and is never signalled."""
    workers = []
    for chunk in chunks:
        if chunk["status"] != "leased":
            continue
        pid = int(chunk["leased_by"].rsplit(":", 1)[1])
        try:
            if os.getpgid(pid) == run.pid:
                workers.append(pid)
        except ProcessLookupError:
            continue
    return sorted(workers)


async def test_a_campaign_killed_again_and_again_ends_with_the_uninterrupted_ledger(
    fresh_dsn: str, server_dsn: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    await _populate(fresh_dsn, tmp_path / "population")
    _run(fresh_dsn, tmp_path, YEAR - 1)
    name = fresh_dsn.rsplit("/", 1)[-1]
    await create_database(server_dsn, name + "_copy", template=name)
    copy_dsn = with_database(server_dsn, name + "_copy")
    runs: list[subprocess.Popen[bytes]] = []
    try:
        _run(copy_dsn, tmp_path)
        for round_no in range(ROUNDS):
            done = sum(c["status"] == "done" for c in await _chunks(fresh_dsn))
            _start(fresh_dsn, tmp_path, runs, "2")
            chunks = await _wait_for(fresh_dsn, done + 1, or_finished=True)
            if len(chunks) - sum(c["status"] == "done" for c in chunks) < 2:
                break  # too few chunks left to kill anything mid-run
            await asyncio.sleep(rng.uniform(0, 0.3))  # somewhere inside a chunk, or between
            workers = _workers_of(runs[-1], await _chunks(fresh_dsn))
            if round_no % 3 == 2 or not workers:
                os.killpg(runs[-1].pid, signal.SIGKILL)  # the run and its workers
            else:
                with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
                    os.kill(rng.choice(workers), signal.SIGKILL)
                os.killpg(runs[-1].pid, signal.SIGKILL)  # then the rest, for the next round
            runs[-1].wait()
        _run(fresh_dsn, tmp_path)
        assert all(c["status"] == "done" for c in await _chunks(fresh_dsn))
        assert await _ledger(fresh_dsn) == await _ledger(copy_dsn)
        await _verify(fresh_dsn)
        assert _report(fresh_dsn, tmp_path)["check"]["agrees"]
    finally:
        for run in runs:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        await drop_database(server_dsn, name + "_copy")
