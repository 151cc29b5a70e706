"""The campaign's bulk intake on a synthetic population (``BENCH_INTAKE_PERSONS``, 100,000 by
default; generated once, cached in ``.cpa/bench-population-<N>``): persons/s of
``campaign load-persons``, declaration lines/s of ``campaign load`` for one year, the peak RSS
of each command, and, in the same database, the floor of the write: the same rows inserted by
a plain ``insert … select`` from the staging table (no checks, no deduplication)."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import msgspec

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from cpa.db.admin import create_database, migrate_database  # noqa: E402
from cpa.db.embedded import EmbeddedPostgres  # noqa: E402
from tests.support.processes import cpa_env, free_port  # noqa: E402

YEAR = 2024
KINDS = ("activities", "exposures", "engagements")
FLOOR = """
create temporary table floor_lines as
select person_id, year, body::text as body from activity_declarations where year = $1;
"""


def _cpa(env: dict[str, str], *args: str) -> tuple[dict[str, object], float, int]:
    """A command's JSON answer, its wall time and the peak RSS in MB of the largest command
    so far (Linux: ru_maxrss in kB)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cpa", *args], env=env, cwd=PROJECT,
                          capture_output=True, check=True, timeout=3_600)  # fmt: skip
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return msgspec.json.decode(done.stdout), time.perf_counter() - started, rss_mb


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
    population = PROJECT / ".cpa" / f"bench-population-{persons}"
    data_dir = Path(tempfile.mkdtemp(prefix="cpa-intake-"))
    os.chmod(data_dir, 0o755)  # the server's user (not root) reads it: no fallback under /tmp
    pg = EmbeddedPostgres(data_dir / "pgdata", free_port(), cache_dir=PROJECT / ".cpa" / "pgbin")
    pg.ensure_running()
    try:
        asyncio.run(create_database(pg.dsn(), "cpa"))
        dsn = pg.dsn("cpa")
        asyncio.run(migrate_database(dsn))
        env = cpa_env(database_url=dsn, data_dir=str(data_dir))
        if not (population / "persons.ndjson").exists():
            _cpa(env, "synth", "--persons", str(persons), "--seed", "1", "--out", str(population))
        rejects = str(data_dir / "rejects.ndjson")
        persons_file = str(population / "persons.ndjson")
        report, wall, rss = _cpa(
            env, "campaign", "load-persons", persons_file, "--rejects", rejects
        )
        print(f"intake_persons={report['stored']} persons_per_s={report['lines_per_second']} "
              f"wall_s={wall:.1f} rss_mb={rss}")  # fmt: skip
        files = [str(population / f"{kind}-{YEAR}.ndjson") for kind in KINDS]
        report, wall, rss = _cpa(env, "campaign", "load", "--year", str(YEAR), *files,
                                 "--rejects", rejects)  # fmt: skip
        print(f"intake_lines={report['lines']} lines_per_s={report['lines_per_second']} "
              f"wall_s={wall:.1f} rss_mb={rss}")  # fmt: skip
        floor = min(asyncio.run(_floor(dsn)) for _ in range(2))  # the first one warms up
        rows = asyncio.run(_count(dsn))
        print(f"intake_write_floor_rows_per_s={int(rows / floor)} (plain insert … select)")
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


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
