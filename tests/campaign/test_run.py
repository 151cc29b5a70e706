"""The campaign's run, with real worker processes: ``kill -9`` of one worker mid-run, then of
every process of the run, then a rerun, gives the ledger of an uninterrupted run on a copy of
the same input (every entry, every balance, every credit record); ``ledger verify`` passes and
the report's totals equal the ledger's. Two runs started separately (as on two machines) finish
one pass together, no chunk done twice.

A synthetic population (``cpa synth``, loaded by the bulk intake) of ``PERSONS`` persons with
2023 credited first, so that 2024 meets balances, ceilings and hours already converted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from cpa.campaign import (
    IntakeReport,
    campaign_report,
    campaign_status,
    load_declarations,
    load_persons,
    open_pass,
    record_load,
    synthesize,
    work,
)
from cpa.campaign.run import ATTEMPTS_MAX
from cpa.db.pool import _init_connection
from cpa.declarations import ActivityDeclaration, DeclaredActivity, declare_activities
from cpa.ledger import YearNotClosed, verify_ledger
from cpa.persons import NirVault
from tests.support.processes import PROJECT, cpa_env

PERSONS = 1_500
CHUNK = "100"  # persons per chunk: about 15 chunks a year
LEASE = "2"  # seconds: a killed worker's chunk comes back that soon
VAULT = NirVault(b"c" * 32)
YEAR = 2024
LOADED = dt.date(2026, 4, 1)
WAIT_S = 60.0
ENTRIES = (
    "select person_id, pot, kind, amount, unit, effective_on, credit_year, rule_id,"
    " legal_reference, parameter_effective_from, trace::text, declaration_id, client_id"
    " from ledger_entries order by person_id, id"
)
BALANCES = "select person_id, pot, grant_id, balance from ledger_balances order by 1, 2"
CREDITS = "select * from ledger_credits order by person_id, year, account"
SUMMARIES = "select person_id, summary::text from ledger_locks order by 1"


async def _populate(dsn: str, directory: Path) -> None:
    synthesize(PERSONS, 7, range(YEAR - 1, YEAR + 1), directory)
    db = await asyncpg.connect(dsn)
    await _init_connection(db)
    try:
        rejects = directory / "rejects.ndjson"
        await load_persons(db, [directory / "persons.ndjson"], vault=VAULT, rejects_path=rejects)
        for year in (YEAR - 1, YEAR):
            files = [directory / f"{kind}-{year}.ndjson"
                     for kind in ("activities", "exposures", "engagements")]  # fmt: skip
            await load_declarations(db, year, files, today=LOADED, vault=VAULT,
                                    rejects_path=rejects)  # fmt: skip
    finally:
        await db.close()


def _run_argv(year: int, workers: str = "2") -> list[str]:
    return [sys.executable, "-m", "cpa", "campaign", "run", "--year", str(year), "--workers",
            workers, "--chunk-persons", CHUNK, "--lease-seconds", LEASE,
            "--today", f"{year + 1}-04-15"]  # fmt: skip


def _env(dsn: str, tmp_path: Path) -> dict[str, str]:
    return cpa_env(database_url=dsn, data_dir=str(tmp_path / "cpa-data"))


def _run(dsn: str, tmp_path: Path, year: int = YEAR) -> dict[str, Any]:
    done = subprocess.run(_run_argv(year), env=_env(dsn, tmp_path), cwd=PROJECT,
                          capture_output=True, timeout=WAIT_S, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    status: dict[str, Any] = msgspec.json.decode(done.stdout)
    return status


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The runs a test starts, each in its own process group, killed whole if left running."""
    runs: list[subprocess.Popen[bytes]] = []
    yield runs
    for run in runs:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()


def _start(dsn: str, tmp_path: Path, runs: list[subprocess.Popen[bytes]], workers: str) -> None:
    runs.append(subprocess.Popen(_run_argv(YEAR, workers), env=_env(dsn, tmp_path), cwd=PROJECT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True))  # fmt: skip


async def _until_leased_by(dsn: str, runs: int) -> None:
    """Until ``runs`` distinct runs each hold a leased chunk (bounded by ``WAIT_S``)."""
    db = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + WAIT_S
        query = (
            "select count(distinct leased_by) from campaign_chunks"
            " where year = $1 and status = 'leased'"
        )
        while await db.fetchval(query, YEAR) < runs:
            assert time.monotonic() < deadline, f"{runs} runs never held chunks at once"
            await asyncio.sleep(0.05)
    finally:
        await db.close()


async def _chunks(dsn: str) -> list[Any]:
    db = await asyncpg.connect(dsn)
    try:
        return await db.fetch(
            "select chunk_no, status, leased_by, attempts from campaign_chunks"
            " where year = $1 order by chunk_no",
            YEAR,
        )
    finally:
        await db.close()


async def _wait_for(dsn: str, done_at_least: int, *, or_finished: bool = False) -> list[Any]:
    """The chunks once ``done_at_least`` are done and one is leased (polled, bounded); with
    ``or_finished``, also once every chunk is done (the last ones may all end between two
    polls, and then none is ever seen leased)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        chunks = await _chunks(dsn)
        done = sum(c["status"] == "done" for c in chunks)
        if done >= done_at_least and any(c["status"] == "leased" for c in chunks):
            return chunks
        if or_finished and chunks and done == len(chunks):
            return chunks
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {done_at_least} chunks done in {WAIT_S} s")


async def _ledger(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    db = await asyncpg.connect(dsn)
    try:
        return {q: [tuple(r) for r in await db.fetch(q)]
                for q in (ENTRIES, BALANCES, CREDITS, SUMMARIES)}  # fmt: skip
    finally:
        await db.close()


async def _verify(dsn: str) -> None:
    db = await asyncpg.connect(dsn)
    try:
        report = await verify_ledger(db)
    finally:
        await db.close()
    assert not (report.mismatches or report.stale_summaries or report.overdrawn)


def _status(dsn: str, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cpa", "campaign", "status", "--year", str(YEAR)],
        env=_env(dsn, tmp_path), cwd=PROJECT, capture_output=True, timeout=WAIT_S, check=True,
    )  # fmt: skip
    status: dict[str, Any] = msgspec.json.decode(done.stdout)
    return status


def _report(dsn: str, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cpa", "campaign", "report", "--year", str(YEAR)],
        env=_env(dsn, tmp_path), cwd=PROJECT, capture_output=True, timeout=WAIT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout.decode()[-3000:] + done.stderr.decode()[-3000:]
    report: dict[str, Any] = msgspec.json.decode(done.stdout)
    return report


@pytest.mark.slow
async def test_two_runs_started_separately_finish_one_pass_each_chunk_once(
    fresh_dsn: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    await _populate(fresh_dsn, tmp_path / "population")
    # The ledger's writes wait behind this lock until each run holds a chunk: however fast the
    # first run starts, it cannot finish the pass before the second has joined it.
    blocker = await asyncpg.connect(fresh_dsn)
    try:
        async with blocker.transaction():
            await blocker.execute("lock table ledger_entries in share mode")
            _start(fresh_dsn, tmp_path, started, "1")
            _start(fresh_dsn, tmp_path, started, "1")
            await _until_leased_by(fresh_dsn, runs=2)
    finally:
        await blocker.close()
    for run in started:
        assert run.wait(timeout=WAIT_S) == 0
    chunks = await _chunks(fresh_dsn)
    assert chunks and all(c["status"] == "done" and c["attempts"] == 1 for c in chunks)
    assert len({c["leased_by"] for c in chunks}) == 2, "both runs credited chunks"
    db = await asyncpg.connect(fresh_dsn)
    try:
        assert await db.fetchval("select count(distinct pass) from campaign_chunks") == 1
        twice = await db.fetchval(
            "select count(*) from (select person_id, pot from ledger_entries"
            " where kind = 'accrual' group by person_id, pot, credit_year having count(*) > 1) t"
        )
        assert twice == 0
    finally:
        await db.close()
    await _verify(fresh_dsn)
    assert _report(fresh_dsn, tmp_path)["check"]["agrees"]


@pytest.mark.slow
async def test_a_failing_chunk_is_tried_three_times_reported_then_retried_by_a_rerun(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """A chunk whose writes fail is given back and tried again, left failed after
    ``ATTEMPTS_MAX`` attempts with its error (no row data) in ``campaign status``; the next run
    gives it another round."""
    await _populate(fresh_dsn, tmp_path / "population")
    db = await asyncpg.connect(fresh_dsn)
    try:
        await db.execute(
            "alter table ledger_entries add constraint test_refuses check (amount < 0) not valid"
        )
        campaign = await open_pass(db, YEAR, today=dt.date(2025, 4, 15))
        assert await work(fresh_dsn, campaign, worker_id="w1", lease_seconds=1) == 0
        status = await campaign_status(db, YEAR)
        assert status is not None and status.chunks["failed"] == campaign.chunks_open
        assert all(e["attempts"] == ATTEMPTS_MAX for e in status.errors)
        error = str(status.errors[0]["error"])
        assert "test_refuses" in error and "Failing row" not in error
        assert await db.fetchval("select count(*) from ledger_entries") == 0
        await db.execute("alter table ledger_entries drop constraint test_refuses")
        again = await open_pass(db, YEAR, today=dt.date(2025, 4, 15))
        assert again.number == campaign.number and again.chunks_open == campaign.chunks_open
        assert await work(fresh_dsn, again, worker_id="w2", lease_seconds=1) == again.chunks_open
        status = await campaign_status(db, YEAR)
        assert status is not None and status.chunks["done"] == again.chunks_open
    finally:
        await db.close()
    await _verify(fresh_dsn)


async def test_a_corrected_year_is_adjusted_by_a_new_pass_and_reported(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """A finished pass is not redone by ``campaign run``; ``--again`` opens a new pass that
    posts the correction's adjustment (OQ-5), counted by the report, which still agrees."""
    await _populate(fresh_dsn, tmp_path / "population")
    db = await asyncpg.connect(fresh_dsn)
    await _init_connection(db)
    try:
        first = await open_pass(db, YEAR, today=dt.date(2025, 4, 15))
        await work(fresh_dsn, first, worker_id="w1", lease_seconds=5)
        credited = await db.fetchrow(
            "select person_id, amount from ledger_credits"
            " where year = $1 and account = 'cpf' and amount > 10000 order by person_id limit 1",
            YEAR,
        )
        line = ActivityDeclaration(person_id=credited["person_id"], year=YEAR, activities=[
            DeclaredActivity(kind="employee", worked_centihours=10_000)])  # fmt: skip
        assert (await declare_activities(db, [line], today=LOADED)).rejected == 0
        same = await open_pass(db, YEAR, today=dt.date(2025, 5, 2))
        assert (same.number, same.chunks_open) == (1, 0)
        again = await open_pass(db, YEAR, today=dt.date(2025, 5, 2), again=True)
        assert again.number == 2
        await work(fresh_dsn, again, worker_id="w2", lease_seconds=5)
        adjustments = await db.fetch(
            "select amount, effective_on from ledger_entries where kind = 'adjustment'"
        )
        assert len(adjustments) == 1 and adjustments[0]["amount"] < 0
        assert adjustments[0]["effective_on"] == dt.date(2025, 5, 2)
        report = await campaign_report(db, YEAR)
        assert report is not None and report.check.agrees, report
        assert (report.persons_adjusted, report.adjustment_entries) == (1, 1)
        assert report.adjustments == {"cpf_statutory": adjustments[0]["amount"]}
        assert [p.number for p in report.passes] == [1, 2]
        assert report.persons_credited == report.passes[0].persons
    finally:
        await db.close()
    await _verify(fresh_dsn)


def _load(**rejected: int) -> IntakeReport:
    by_type = {kind.replace("_", "-"): lines for kind, lines in rejected.items()}
    count = sum(by_type.values())
    return IntakeReport(files=1, lines=count, stored=0, unchanged=0, rejected=count,
                        rejected_by_type=by_type, rejects="rejects.ndjson", seconds=0.1,
                        lines_per_second=10)  # fmt: skip


async def test_a_year_nobody_declared_is_a_pass_of_no_chunk(fresh_dsn: str) -> None:
    """Nothing to credit: the pass has no chunk, its worker ends at once, the status and the
    report say so (and agree with an empty ledger), with the rejects of the year's loads and
    of the persons' loads; a year not closed yet is refused."""
    db = await asyncpg.connect(fresh_dsn)
    try:
        campaign = await open_pass(db, 2020, today=dt.date(2025, 4, 15))
        assert campaign.chunks_open == 0
        assert await work(fresh_dsn, campaign, worker_id="w", lease_seconds=1) == 0
        status = await campaign_status(db, 2020)
        assert status is not None and sum(status.chunks.values()) == 0
        await record_load(db, 2020, "declarations", _load(invalid_input=2, truncated_line=1))
        await record_load(db, 2019, "declarations", _load(invalid_input=5))  # another year
        await record_load(db, None, "persons", _load(invalid_nir=1))  # persons: every year's
        report = await campaign_report(db, 2020)
        assert report is not None and report.check.agrees and report.persons_credited == 0
        assert report.rejects_by_type == {"invalid-input": 2, "truncated-line": 1,
                                          "invalid-nir": 1}  # fmt: skip
        with pytest.raises(YearNotClosed):
            await open_pass(db, 2025, today=dt.date(2025, 4, 15))
    finally:
        await db.close()
