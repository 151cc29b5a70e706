"""The command line finds its own database: the port its server runs on, never another
checkout's server on the configured port, and a problem (exit 2) when PostgreSQL cannot be
reached, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpa.db.embedded import EmbeddedPostgres
from tests.conftest import TEST_PG_SETTINGS
from tests.support.processes import cpa_env, free_port

pytestmark = pytest.mark.slow


def _server(data_dir: Path, port: int) -> EmbeddedPostgres:
    pg = EmbeddedPostgres(
        data_dir, port, cache_dir=Path(".cpa/pgbin").absolute(), settings=TEST_PG_SETTINGS
    )
    pg.ensure_running()
    return pg


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[tuple[Path, EmbeddedPostgres]]:
    """A data directory whose server runs on a port the settings no longer name."""
    data_dir = tmp_path / "data"
    pg = _server(data_dir / "pgdata", free_port())
    yield data_dir, pg
    pg.stop()


@pytest.fixture
def another(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """Another checkout's server."""
    pg = _server(tmp_path / "another" / "pgdata", free_port())
    yield pg
    pg.stop()


def _cpa(data_dir: Path, pg_port: int, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = cpa_env(data_dir=str(data_dir), **env)
    environment["CPA_PG_PORT"] = str(pg_port)
    return subprocess.run(
        [sys.executable, "-m", "cpa", *args],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip


def _problem(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 2, done.stderr[-2000:]
    problem: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return problem


def test_the_cli_uses_the_port_its_server_runs_on(
    ours: tuple[Path, EmbeddedPostgres], another: EmbeddedPostgres
) -> None:
    data_dir, pg = ours
    # The settings name the other server's port: the command must not use it.
    done = _cpa(data_dir, another.port, "migrate")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "postgres_port_adopted" in done.stderr
    databases = subprocess.run(
        [pg.binaries.tool("psql"), "-h", "127.0.0.1", "-p", str(another.port), "-U", "postgres",
         "-Atc", "select datname from pg_database"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "cpa" not in databases.stdout.split(), "the other checkout's server was written to"


def test_a_port_taken_by_another_server_is_a_problem(
    tmp_path: Path, another: EmbeddedPostgres
) -> None:
    problem = _problem(_cpa(tmp_path / "fresh", another.port, "migrate"))
    assert problem["type"] == "urn:cpa:problem:postgres-port-taken"


def test_an_unreachable_database_is_a_problem(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/cpa"
    done = _cpa(tmp_path, free_port(), "migrate", database_url=url)
    assert _problem(done)["type"] == "urn:cpa:problem:database-unreachable"
    assert "Traceback" not in done.stderr
