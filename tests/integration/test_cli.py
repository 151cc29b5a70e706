"""The command line: results on stdout, problems on stderr with exit status 2."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.support.processes import cpa_env, run_cpa


def test_invalid_nir_is_refused_with_a_problem_and_touches_nothing() -> None:
    result = run_cpa(
        "persons",
        "add",
        "--nir",
        "180057512345628",
        "--birth-date",
        "1980-05-01",
        env=cpa_env(database_url="postgresql://nobody@127.0.0.1:1/none"),
    )
    assert result.returncode == 2
    assert result.stdout == b""
    problem = msgspec.json.decode(result.stderr.splitlines()[-1])
    assert problem["type"] == "urn:cpa:problem:invalid-nir"
    assert "control key" in problem["detail"]


@pytest.mark.slow
def test_every_command_has_help() -> None:
    env = cpa_env()
    for command in ("serve", "migrate", "persons", "demo", "simulate", "openapi"):
        result = run_cpa(command, "--help", env=env)
        assert result.returncode == 0, command
        assert b"usage:" in result.stdout


def test_with_database_url_no_server_is_started(fresh_dsn: str, tmp_path: Path) -> None:
    """CPA_DATABASE_URL set: the command uses that server and never starts its own."""
    result = run_cpa("migrate", env=cpa_env(database_url=fresh_dsn, data_dir=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert msgspec.json.decode(result.stdout) == {"applied": []}
    assert not (tmp_path / "pgdata").exists()
    assert b"postgres_started" not in result.stderr
