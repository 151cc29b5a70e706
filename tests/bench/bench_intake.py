"""The campaign's bulk intake on a synthetic population (``BENCH_INTAKE_PERSONS``, 100,000 by
default; generated once, cached in ``.cpa/bench-population-<N>``): persons/s of
``campaign load-persons``, declaration lines/s of ``campaign load`` for one year, the peak RSS
of each command, and, in the same database, the floor of the write: the same rows inserted by
a plain ``insert … select`` from the staging table (no checks, no deduplication)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from tests.bench.population import bench_database, run_cpa  # noqa: E402

YEAR = 2024
KINDS = ("activities", "exposures", "engagements")
FLOOR = """
create temporary table floor_lines as
select person_id, year, body::text as body from activity_declarations where year = $1;
"""


async def _floor(dsn: str) -> float:
    """Seconds to insert the year's activity rows again by a plain insert … select (rolled
    back): what the intake's write cannot beat in this table."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(FLOOR.replace("$1", str(YEAR)))
        transaction = connection.transaction()
        await transaction.start()
        started = time.perf_counter()
        await connection.execute(
            "insert into activity_declarations (person_id, year, revision, body)"
            " select person_id, year, 2, body::jsonb from floor_lines"
        )
        took = time.perf_counter() - started
        await transaction.rollback()
        return took
    finally:
        await connection.close()


def main() -> None:
    persons = int(os.environ.get("BENCH_INTAKE_PERSONS", "100000"))
    with bench_database("cpa-intake-", persons) as bench:
        rejects = str(bench.data_dir / "rejects.ndjson")
        persons_file = str(bench.population / "persons.ndjson")
        done = run_cpa(bench.env, "campaign", "load-persons", persons_file, "--rejects", rejects)
        print(f"intake_persons={done.json['stored']} persons_per_s={done.json['lines_per_second']} "
              f"wall_s={done.wall_s:.1f} rss_mb={done.rss_mb}")  # fmt: skip
        files = [str(bench.population / f"{kind}-{YEAR}.ndjson") for kind in KINDS]
        done = run_cpa(bench.env, "campaign", "load", "--year", str(YEAR), *files,
                       "--rejects", rejects)  # fmt: skip
        print(f"intake_lines={done.json['lines']} lines_per_s={done.json['lines_per_second']} "
              f"wall_s={done.wall_s:.1f} rss_mb={done.rss_mb}")  # fmt: skip
        floor = min(asyncio.run(_floor(bench.dsn)) for _ in range(2))  # the first one warms up
        rows = asyncio.run(_count(bench.dsn))
        print(f"intake_write_floor_rows_per_s={int(rows / floor)} (plain insert … select)")


async def _count(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            "select count(*) from activity_declarations where year = $1", YEAR
        )
        return count
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
