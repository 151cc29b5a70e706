"""``python -m cpa campaign run | work | status | report``: the year's crediting run.

``run`` opens (or joins) the year's pass and starts ``--workers`` worker processes
(``campaign work``, each with its own connection: they share nothing but PostgreSQL); on a
terminal it draws a progress bar with rate and ETA (the workers then log only their errors),
otherwise each worker logs one JSON line per chunk on standard error. Ctrl-C stops every
worker after its current chunk; a rerun resumes. Its result, on standard output, is the
pass's status.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from typing import Any, TypeVar

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cpa.campaign.models import CampaignReport
from cpa.campaign.report import campaign_report, campaign_status, euros
from cpa.campaign.run import CHUNK_PERSONS, LEASE_SECONDS, CampaignPass, open_pass, work
from cpa.cli.common import (
    command,
    on_one_connection,
    one_shot_database,
    print_json,
    with_connection,
)
from cpa.config import Settings
from cpa.db.admin import migrate_database
from cpa.db.queries import sql
from cpa.errors import CpaError

log = structlog.get_logger(__name__)

WATCH_INTERVAL_S = 0.5
"""How often the progress bar reads the pass's progress."""
STOP_WAIT_S = 120.0
"""How long a stopped run waits for its workers to finish their chunk before killing them."""


WORKERS_MAX = 64
"""Worker processes one ``campaign run`` starts at most (more machines: more runs)."""


CHUNK_PERSONS_MAX = 100_000
"""A chunk is one transaction held by one worker: beyond this, its memory and its redo grow."""


def _chunk_persons(text: str) -> int:
    persons = int(text)
    if not 1 <= persons <= CHUNK_PERSONS_MAX:
        raise argparse.ArgumentTypeError(f"between 1 and {CHUNK_PERSONS_MAX}")
    return persons


def _workers(text: str) -> int:
    workers = int(text)
    if not 1 <= workers <= WORKERS_MAX:
        raise argparse.ArgumentTypeError(f"between 1 and {WORKERS_MAX}")
    return workers


T = TypeVar("T")


class NoCampaign(CpaError, slug="no-campaign", status=404):
    """No campaign was run for this year."""


def register_run(campaign: Any) -> None:
    """Add ``campaign run``, ``work``, ``status`` and ``report`` to the campaign group."""
    run = command(campaign, "run", cmd_run, "credit a year with worker processes (resumable)")
    run.add_argument("--year", type=int, required=True)
    run.add_argument("--workers", type=_workers, default=2, help=f"1 to {WORKERS_MAX}")
    run.add_argument("--today", type=dt.date.fromisoformat, default=None,
                     help="the day the credits are effective (default: today; "
                          "a pass joined keeps its own)")  # fmt: skip
    run.add_argument("--chunk-persons", type=_chunk_persons, default=CHUNK_PERSONS,
                     help=f"persons per chunk, 1 to {CHUNK_PERSONS_MAX}")  # fmt: skip
    run.add_argument("--lease-seconds", type=float, default=LEASE_SECONDS)
    run.add_argument("--again", action="store_true",
                     help="a new pass over a finished year (after corrections)")  # fmt: skip
    worker = command(campaign, "work", cmd_work, "one worker of a pass (started by run)")
    worker.add_argument("--year", type=int, required=True)
    worker.add_argument("--pass", dest="number", type=int, required=True)
    worker.add_argument("--credited-on", type=dt.date.fromisoformat, required=True)
    worker.add_argument("--lease-seconds", type=float, default=LEASE_SECONDS)
    worker.add_argument("--quiet", action="store_true", help="no line per chunk")
    status = command(campaign, "status", cmd_status, "chunks done, leased, waiting; errors")
    status.add_argument("--year", type=int, required=True)
    report = command(
        campaign, "report", cmd_report, "the year's report, checked against the ledger"
    )
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--table", action="store_true", help="a readable table, not JSON")


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    today = args.today or dt.date.today()
    with one_shot_database(settings) as dsn:
        asyncio.run(migrate_database(dsn))

        async def opened(db: Any) -> CampaignPass:
            return await open_pass(db, args.year, today=today, chunk_persons=args.chunk_persons,
                                   again=args.again)  # fmt: skip

        campaign: CampaignPass = asyncio.run(with_connection(dsn, opened))
        bar = sys.stderr.isatty()
        workers = [
            _spawn(dsn, campaign, args.lease_seconds, quiet=bar) for _ in range(args.workers)
        ]
        _watch(dsn, campaign, workers, bar)
        status = asyncio.run(with_connection(dsn, lambda db: campaign_status(db, args.year)))
    print_json(status)
    return 0 if status is not None and status.chunks["done"] == sum(status.chunks.values()) else 1


def _spawn(
    dsn: str, campaign: CampaignPass, lease_s: float, *, quiet: bool
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "cpa", "campaign", "work", "--year", str(campaign.year),
            "--pass", str(campaign.number), "--credited-on", campaign.credited_on.isoformat(),
            "--lease-seconds", str(lease_s), *(["--quiet"] if quiet else [])]  # fmt: skip
    env = {**os.environ, "CPA_DATABASE_URL": dsn}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)


def _watch(
    dsn: str, campaign: CampaignPass, workers: list[subprocess.Popen[bytes]], bar: bool
) -> None:
    """Until every worker has exited: the progress bar (on a terminal); Ctrl-C stops them."""
    try:
        if bar:
            asyncio.run(_progress(dsn, campaign, workers))
        for worker in workers:
            worker.wait()
    except KeyboardInterrupt:
        _stop(workers)


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    """Each worker told to stop after its chunk (a terminal's Ctrl-C told them already)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_S
    for worker in workers:
        try:
            worker.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()  # its chunk rolls back; the lease brings it back
            worker.wait()


async def _progress(
    dsn: str, campaign: CampaignPass, workers: list[subprocess.Popen[bytes]]
) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} persons/s"), TimeElapsedColumn(),
               TimeRemainingColumn())  # fmt: skip

    async def read(db: Any) -> None:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task(f"campaign {campaign.year}", total=None, rate=0)
            started, first = time.monotonic(), None
            while any(w.poll() is None for w in workers):
                row = await db.fetchrow(
                    sql("get_campaign_progress"), campaign.year, campaign.number
                )
                first = row["persons_done"] if first is None else first
                rate = int((row["persons_done"] - first) / max(time.monotonic() - started, 1e-3))
                progress.update(
                    task, completed=row["persons_done"], total=row["persons"], rate=rate
                )
                await asyncio.sleep(WATCH_INTERVAL_S)

    await with_connection(dsn, read)


def cmd_work(args: argparse.Namespace, settings: Settings) -> int:
    stop = {"asked": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))
    campaign = CampaignPass(year=args.year, number=args.number, credited_on=args.credited_on,
                            chunks_open=0)  # fmt: skip
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    with one_shot_database(settings) as dsn:
        working = work(dsn, campaign, worker_id=worker_id, lease_seconds=args.lease_seconds,
                       stopping=lambda: stop["asked"], quiet=args.quiet)  # fmt: skip
        done = asyncio.run(working)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux: kB
    log.info("campaign_worker_finished", chunks=done, stopped=stop["asked"], rss_mb=rss_mb)
    return 0


def _campaign(year: int, found: T | None) -> T:
    """What a campaign command read of ``year``'s campaign; a 404 problem when none was run."""
    if found is None:
        raise NoCampaign(f"no campaign was run for {year}")
    return found


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    status = on_one_connection(settings, lambda db: campaign_status(db, args.year))
    print_json(_campaign(args.year, status))
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    found = on_one_connection(settings, lambda db: campaign_report(db, args.year))
    report = _campaign(args.year, found)
    if args.table:
        _print_table(report)
    else:
        print_json(report)
    return 0 if report.check.agrees else 1


def _amount(pot: str, amount: int) -> str:
    unit = {"cpf_statutory": "€", "cec": "€", "cpf_hours": "h", "cec_hours": "h", "c2p": "points"}
    return euros(amount) if unit.get(pot) == "€" else f"{amount:,} {unit.get(pot, '')}"


def _print_table(report: CampaignReport) -> None:
    table = Table(title=f"Crediting campaign {report.year}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("persons credited", f"{report.persons_credited:,}")
    for category, count in report.persons_by_category.items():
        table.add_row(f"  {category.replace('_', ' ')}", f"{count:,}")
    sections = (("credited", report.credited), ("adjustments", report.adjustments),
                ("cut by the ceiling", report.cut_by_ceiling), ("debts left", report.debts),
                ("converted", report.converted))  # fmt: skip
    for title, amounts in sections:
        for pot, amount in sorted(amounts.items()):
            table.add_row(f"{title} {pot}", _amount(pot, amount))
    for pot, count in sorted(report.persons_at_ceiling.items()):
        table.add_row(f"persons at the ceiling {pot}", f"{count:,}")
    table.add_row("persons adjusted", f"{report.persons_adjusted:,}")
    table.add_row("adjustment entries", f"{report.adjustment_entries:,}")
    table.add_row("persons owing", f"{report.persons_owing:,}")
    for kind, lines in report.rejects_by_type.items():
        table.add_row(f"rejected lines: {kind}", f"{lines:,}")
    for p in report.passes:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in p.worker_seconds.items())
        table.add_row(f"pass {p.number}", f"{p.persons:,} persons in {p.seconds:.1f} s "
                      f"({p.persons_per_s:,}/s), {p.chunks_done}/{p.chunks} chunks")  # fmt: skip
        table.add_row(f"pass {p.number}: workers' time", phases)
    agrees = "yes" if report.check.agrees else "NO: " + "; ".join(report.check.mismatches)
    table.add_row("totals equal the ledger's", agrees)
    Console().print(table)
