"""The campaign's run on a synthetic population (``BENCH_CAMPAIGN_PERSONS``, 1,000,000 by
default as the issue asks, ~10 minutes here, 100000 for a quick look; generated once, cached
in ``.cpa/bench-population-<N>`` as for bench_intake.py):
persons/s of ``campaign load`` (lines/s) and of ``campaign run --workers 2`` for one year, the
peak RSS of each worker, and, in the same run, the run's floor: the same entries written with
COPY and the same set-based balance and credit-record statements (``write_chunk``, the run's
own, after the same ledger rows and locks of the chunk's persons), chunk by chunk on two
connections, with no reading and no computation, on a copy of the database taken before the
run.

    BENCH_CAMPAIGN_PERSONS=100000 .venv/bin/python tests/bench/bench_campaign.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from cpa.campaign.chunks import ChunkWrite, write_chunk  # noqa: E402
from cpa.campaign.run import CHUNK_PERSONS  # noqa: E402
from cpa.db.admin import create_database, with_database  # noqa: E402
from cpa.db.queries import sql  # noqa: E402
from tests.bench.population import bench_database, run_cpa  # noqa: E402

YEAR = 2024
KINDS = ("activities", "exposures", "engagements")
WORKERS = 2
ENTRIES = """
select person_id, pot, kind, amount, unit, effective_on, correlation_id, credit_year, rule_id,
       parameter_effective_from, legal_reference, trace::text, declaration_id, client_id
from ledger_entries where credit_year = $1 or (kind = 'conversion' and effective_on = $2)
order by person_id, id
"""
CREDITS = """
select person_id, year, account, unit, amount, balance_before, inputs_sha256, credited_on
from ledger_credits where year = $1 order by person_id
"""


async def _writes(dsn: str, today: str) -> list[ChunkWrite]:
    """The run's writes, rebuilt from its ledger, cut into chunks of persons as it cut them."""
    db = await asyncpg.connect(dsn)
    try:
        entries = await db.fetch(ENTRIES, YEAR, dt.date.fromisoformat(today))
        credits = await db.fetch(CREDITS, YEAR)
    finally:
        await db.close()
    by_person: dict[Any, list[Any]] = defaultdict(list)
    for row in entries:
        by_person[row["person_id"]].append(tuple(row))
    persons = sorted({row["person_id"] for row in credits} | set(by_person))
    credited = defaultdict(list)
    for row in credits:
        credited[row["person_id"]].append(tuple(row))
    writes = []
    for first in range(0, len(persons), CHUNK_PERSONS):
        chunk = persons[first : first + CHUNK_PERSONS]
        rows = [e for p in chunk for e in by_person.get(p, ())]
        deltas: dict[tuple[Any, str], int] = defaultdict(int)
        for row in rows:
            deltas[(row[0], row[1])] += row[3]
        balances = ([k[0] for k in deltas], [k[1] for k in deltas], list(deltas.values()))
        credit_rows = [c for p in chunk for c in credited.get(p, ())]
        columns = tuple([c[i] for c in credit_rows] for i in range(8))
        writes.append(ChunkWrite(entries=rows, balances=balances, credits=columns))
    return writes


async def _floor(dsn: str, writes: list[ChunkWrite]) -> float:
    """Seconds to write every chunk (one transaction each) on ``WORKERS`` connections."""
    queue: asyncio.Queue[ChunkWrite] = asyncio.Queue()
    for write in writes:
        queue.put_nowait(write)

    async def writer() -> None:
        db = await asyncpg.connect(dsn)  # no jsonb codec: the traces go as their text
        try:
            while not queue.empty():
                write = queue.get_nowait()
                async with db.transaction():  # the persons' ledger rows and locks, as the run
                    ids = sorted(set(write.credits[0]))
                    await db.execute(sql("ensure_ledger_accounts"), ids)
                    await db.fetch(sql("lock_ledger_accounts"), ids)
                    await write_chunk(db, write)
        finally:
            await db.close()

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(WORKERS)))
    return time.perf_counter() - started


def _rss(stderr: str) -> list[int]:
    """The peak RSS (MB) each worker logged when it ended."""
    lines = [msgspec.json.decode(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line["rss_mb"] for line in lines if line.get("event") == "campaign_worker_finished"]


def main() -> None:
    persons = int(os.environ.get("BENCH_CAMPAIGN_PERSONS", "1000000"))
    with bench_database("cpa-campaign-", persons) as bench:
        env, population = bench.env, bench.population
        rejects = str(bench.data_dir / "rejects.ndjson")
        run_cpa(env, "campaign", "load-persons", str(population / "persons.ndjson"),
                "--rejects", rejects)  # fmt: skip
        files = [str(population / f"{kind}-{YEAR}.ndjson") for kind in KINDS]
        load = run_cpa(env, "campaign", "load", "--year", str(YEAR), *files, "--rejects", rejects)
        print(f"load_lines={load.json['lines']} lines_per_s={load.json['lines_per_second']} "
              f"wall_s={load.wall_s:.1f}")  # fmt: skip
        asyncio.run(create_database(bench.pg.dsn(), "floor", template="cpa"))  # before the run
        today = f"{YEAR + 1}-04-15"
        ran = run_cpa(env, "campaign", "run", "--year", str(YEAR), "--workers", str(WORKERS),
                      "--today", today)  # fmt: skip
        status = ran.json
        report = run_cpa(env, "campaign", "report", "--year", str(YEAR)).json
        run = report["passes"][-1]
        print(f"run_persons={status['persons_done']} workers={WORKERS} "
              f"persons_per_s={run['persons_per_s']} (first lease to last commit "
              f"{run['seconds']:.1f} s; command wall {ran.wall_s:.1f} s) "
              f"worker_rss_mb={_rss(ran.stderr)} agrees={report['check']['agrees']} "
              f"workers_seconds={run['worker_seconds']}")  # fmt: skip
        writes = asyncio.run(_writes(bench.dsn, today))
        floor = asyncio.run(_floor(with_database(bench.pg.dsn(), "floor"), writes))
        floor_rate = int(status["persons_done"] / floor)
        print(f"floor_persons_per_s={floor_rate} (the same writes, no reads, no computation) "
              f"run/floor={run['persons_per_s'] / floor_rate:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
