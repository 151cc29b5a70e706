"""``python -m cpa synth`` then ``campaign load-persons`` and ``campaign load``, as an operator
types them: the population loads whole, and a second load changes nothing."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.support.processes import cpa_env, run_cpa


@pytest.mark.slow
def test_synth_then_load_persons_and_a_year(fresh_dsn: str, tmp_path: Path) -> None:
    env = cpa_env(database_url=fresh_dsn, data_dir=str(tmp_path / "data"))
    out = tmp_path / "population"
    made = run_cpa("synth", "--persons", "60", "--seed", "3", "--years", "2020-2021",
                   "--out", str(out), env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    counts = msgspec.json.decode(made.stdout)
    assert counts["persons"] == 60
    persons = run_cpa("campaign", "load-persons", str(out / "persons.ndjson"),
                      "--rejects", str(tmp_path / "p.ndjson"), env=env)  # fmt: skip
    assert persons.returncode == 0, persons.stderr
    assert msgspec.json.decode(persons.stdout)["stored"] == 60
    files = [
        str(out / f"{kind}-2021.ndjson") for kind in ("activities", "exposures", "engagements")
    ]
    for expected_stored in (None, 0):
        loaded = run_cpa("campaign", "load", "--year", "2021", *files,
                         "--rejects", str(tmp_path / "r.ndjson"), env=env)  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr
        report = msgspec.json.decode(loaded.stdout)
        assert report["rejected"] == 0
        if expected_stored is None:
            assert report["stored"] == report["lines"] > 40
        else:
            assert (report["stored"], report["unchanged"]) == (0, report["lines"])


def test_a_file_whose_kind_is_unknown_is_a_problem(tmp_path: Path) -> None:
    env = cpa_env(database_url="postgresql://nobody@127.0.0.1:1/none", data_dir=str(tmp_path))
    (tmp_path / "lines.ndjson").write_bytes(b"{}\n")
    result = run_cpa("campaign", "load", "--year", "2021", str(tmp_path / "lines.ndjson"), env=env)
    assert result.returncode == 2
    problem = msgspec.json.decode(result.stderr.splitlines()[-1])
    assert problem["type"] == "urn:cpa:problem:unknown-file-kind"
