"""What the campaign's benches share: a throwaway embedded PostgreSQL with cpa migrated on it,
a synthetic population (``cpa synth``, generated once per size and cached under ``.cpa/``),
and ``cpa`` commands run against them with their JSON answer, wall time and peak RSS."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cpa.db.admin import create_database, migrate_database
from cpa.db.embedded import EmbeddedPostgres
from tests.support.processes import PROJECT, cpa_env, free_port

COMMAND_TIMEOUT_S = 7_200


@dataclass(frozen=True)
class Bench:
    pg: EmbeddedPostgres
    dsn: str
    env: dict[str, str]
    data_dir: Path
    population: Path
    """The synthetic files: persons.ndjson, <kind>-<year>.ndjson."""


@dataclass(frozen=True)
class Answer:
    json: Any
    wall_s: float
    stderr: str
    rss_mb: int
    """Peak RSS of the largest command run so far (Linux: ru_maxrss in kB)."""


@contextmanager
def bench_database(prefix: str, persons: int) -> Iterator[Bench]:
    """A fresh database ``cpa`` on its own embedded server, and ``persons`` synthetic persons'
    files (seed 1); everything but the cached files is gone afterwards."""
    population = PROJECT / ".cpa" / f"bench-population-{persons}"
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(data_dir, 0o755)  # the server's user (not root) reads it: no fallback under /tmp
    pg = EmbeddedPostgres(data_dir / "pgdata", free_port(), cache_dir=PROJECT / ".cpa" / "pgbin")
    pg.ensure_running()
    try:
        asyncio.run(create_database(pg.dsn(), "cpa"))
        dsn = pg.dsn("cpa")
        asyncio.run(migrate_database(dsn))
        env = cpa_env(database_url=dsn, data_dir=str(data_dir))
        if not (population / "persons.ndjson").exists():
            run_cpa(
                env, "synth", "--persons", str(persons), "--seed", "1", "--out", str(population)
            )
        yield Bench(pg, dsn, env, data_dir, population)
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def run_cpa(env: dict[str, str], *args: str) -> Answer:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cpa", *args], env=env, cwd=PROJECT,
                          capture_output=True, check=True, timeout=COMMAND_TIMEOUT_S)  # fmt: skip
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return Answer(
        msgspec.json.decode(done.stdout),
        time.perf_counter() - started,
        done.stderr.decode(),
        rss_mb,
    )
