"""The synthetic population: the same seed writes the same bytes, and every line it writes is
one the declarations API accepts (its own service functions, persons found by NIR)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import msgspec
import pytest

from cpa.campaign import parse_years, synthesize
from cpa.declarations import declare_activities, declare_engagements, declare_exposures
from cpa.errors import InvalidInput
from cpa.persons import NewPerson, NirVault, normalise_nir, register_person
from cpa.rules.ages import career_problem

YEARS = range(2015, 2026)
VAULT = NirVault(b"s" * 32)
TODAY = dt.date(2026, 4, 15)
CHUNK_LINES = 1_000  # the API's batch limit


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first = synthesize(300, 42, YEARS, tmp_path / "a")
    second = synthesize(300, 42, YEARS, tmp_path / "b")
    synthesize(300, 43, YEARS, tmp_path / "c")
    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")
    assert len(_files(tmp_path / "a")) == 1 + 3 * len(YEARS)


def test_persons_have_distinct_valid_nirs_and_no_line_before_sixteen(tmp_path: Path) -> None:
    synthesize(2_000, 1, YEARS, tmp_path)
    persons = [
        msgspec.json.decode(line, type=NewPerson)
        for line in (tmp_path / "persons.ndjson").read_bytes().splitlines()
    ]
    nirs = [normalise_nir(person.nir) for person in persons]
    assert len(set(nirs)) == len(nirs) == 2_000
    births = {person.nir: person.birth_date for person in persons}
    for year in YEARS:
        for line in (tmp_path / f"activities-{year}.ndjson").read_bytes().splitlines():
            decoded = msgspec.json.decode(line)
            assert career_problem(births[decoded["nir"]], year) is None


def test_the_shares_are_the_ones_documented(tmp_path: Path) -> None:
    """About 2 % of working persons exposed, a few percent engaged, part-timers, independents,
    ESAT workers, low-qualified and disabled persons all present."""
    counts = synthesize(5_000, 9, range(2024, 2025), tmp_path)
    working = counts["activities"]
    assert 0.01 * working < counts["exposures"] < 0.03 * working
    assert 0.02 * working < counts["engagements"] < 0.07 * working
    text = (tmp_path / "activities-2024.ndjson").read_text()
    lines = [msgspec.json.decode(line) for line in text.splitlines()]
    kinds = [activity["kind"] for line in lines for activity in line["activities"]]
    part_time = [
        a for line in lines for a in line["activities"]
        if a["kind"] == "employee" and a["worked_centihours"] < 150_000
    ]  # fmt: skip
    assert 0.15 * working < len(part_time) < 0.35 * working
    assert 0.07 * working < kinds.count("independent") < 0.15 * working
    assert 0 < kinds.count("esat") < 0.02 * working
    assert 0.08 * working < sum(1 for line in lines if line.get("low_qualified")) < 0.16 * working
    assert 0.01 * working < sum(1 for line in lines if line.get("disability")) < 0.06 * working


def test_years_outside_the_declarable_ones_are_refused() -> None:
    assert parse_years("2015-2025") == YEARS
    for text in ("2014-2020", f"2020-{dt.date.today().year}", "2020-2019", "x"):
        with pytest.raises(InvalidInput):
            parse_years(text)


async def test_every_generated_line_passes_the_declarations_api(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    synthesize(120, 5, YEARS, tmp_path)
    for line in (tmp_path / "persons.ndjson").read_bytes().splitlines():
        await register_person(db, VAULT, msgspec.json.decode(line, type=NewPerson))
    declares = {
        "activities": declare_activities,
        "exposures": declare_exposures,
        "engagements": declare_engagements,
    }
    accepted = 0
    for kind, declare in declares.items():
        for year in YEARS:
            lines = (tmp_path / f"{kind}-{year}.ndjson").read_bytes().splitlines()
            for start in range(0, len(lines), CHUNK_LINES):
                chunk = lines[start : start + CHUNK_LINES]
                result = await declare(db, chunk, today=TODAY, vault=VAULT)
                assert result.rejected == 0, [x.problem for x in result.lines if x.problem]
                accepted += result.accepted
    assert accepted > 1_000
