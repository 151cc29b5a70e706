"""The campaign's run killed and interrupted, with real worker processes (moved out of `make
test` for its time: ~12 s). ``kill -9`` of one worker mid-run, then of every process of the
run, then a rerun, gives the ledger of an uninterrupted run on a copy of the same input (every
entry, every balance, every credit record); ``ledger verify`` passes and the report's totals
equal the ledger's. Ctrl-C stops every worker after its chunk and a rerun resumes. The
population and helpers are tests/campaign/test_run.py's."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from cpa.db.admin import create_database, drop_database, with_database
from tests.campaign.test_run import (
    PERSONS,
    WAIT_S,
    YEAR,
    _chunks,
    _ledger,
    _populate,
    _report,
    _run,
    _start,
    _status,
    _verify,
    _wait_for,
    started,
)

__all__ = ["started"]  # the fixture, used by name


async def test_killed_workers_lose_nothing_and_duplicate_nothing(
    fresh_dsn: str, server_dsn: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    await _populate(fresh_dsn, tmp_path / "population")
    _run(fresh_dsn, tmp_path, YEAR - 1)
    copy = fresh_dsn.rsplit("/", 1)[-1] + "_copy"
    await create_database(server_dsn, copy, template=fresh_dsn.rsplit("/", 1)[-1])
    copy_dsn = with_database(server_dsn, copy)
    try:
        _run(copy_dsn, tmp_path)  # the uninterrupted run, on a copy of the same input
        _start(fresh_dsn, tmp_path, started, "2")
        chunks = await _wait_for(fresh_dsn, 3)
        leased = next(c for c in chunks if c["status"] == "leased")
        os.kill(int(leased["leased_by"].rsplit(":", 1)[1]), signal.SIGKILL)  # one worker
        await _wait_for(fresh_dsn, 8)
        os.killpg(started[0].pid, signal.SIGKILL)  # the run and every worker left
        started[0].wait()
        assert any(c["status"] != "done" for c in await _chunks(fresh_dsn)), "killed mid-run"
        status = _run(fresh_dsn, tmp_path)
        assert status["chunks"]["done"] == len(chunks)
        assert sum(c["attempts"] for c in await _chunks(fresh_dsn)) > len(chunks)
        assert await _ledger(fresh_dsn) == await _ledger(copy_dsn)
        await _verify(fresh_dsn)
        report, uninterrupted = _report(fresh_dsn, tmp_path), _report(copy_dsn, tmp_path)
        assert report["check"]["agrees"], report["check"]["mismatches"]
        for figure in ("persons_credited", "persons_by_category", "credited", "cut_by_ceiling"):
            assert report[figure] == uninterrupted[figure], figure
        assert report["persons_credited"] > PERSONS // 2
    finally:
        await drop_database(server_dsn, copy)


async def test_ctrl_c_stops_after_the_chunk_and_a_rerun_resumes(
    fresh_dsn: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    """Ctrl-C (SIGINT to the run's process group, as a terminal sends it): every worker
    finishes its chunk and leaves none leased; ``campaign status`` says what is left; the
    rerun finishes the pass."""
    await _populate(fresh_dsn, tmp_path / "population")
    _start(fresh_dsn, tmp_path, started, "2")
    await _wait_for(fresh_dsn, 2)
    os.killpg(started[0].pid, signal.SIGINT)
    assert started[0].wait(timeout=WAIT_S) == 1  # stopped before the end
    chunks = await _chunks(fresh_dsn)
    assert not any(c["status"] == "leased" for c in chunks)
    assert any(c["status"] == "waiting" for c in chunks)
    status = _status(fresh_dsn, tmp_path)
    assert status["chunks"]["waiting"] == sum(c["status"] == "waiting" for c in chunks)
    assert status["chunks"]["leased"] == 0
    assert status["persons_done"] < status["persons_planned"]
    assert _run(fresh_dsn, tmp_path)["persons_done"] == status["persons_planned"]
    assert all(c["attempts"] == 1 for c in await _chunks(fresh_dsn))
    await _verify(fresh_dsn)
