"""The bulk intake: every bad line rejected with its line number and reason, every good line
stored as the declarations API stores it, a second load of the same files changes nothing, and
a load that fails midway leaves nothing behind."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from cpa.campaign import intake, load_declarations, load_persons
from cpa.campaign.errors import UnknownFileKind
from cpa.persons import NewPerson, NirVault, nir_key, register_person

VAULT = NirVault(b"i" * 32)
TODAY = dt.date(2026, 4, 15)
YEAR = 2025
PROBLEM = "urn:cpa:problem:"


def nir(number13: str) -> str:
    return number13 + nir_key(number13)


ALICE, BOB, NOBODY = nir("2850575123456"), nir("1900169001002"), nir("1770133001003")
CHILD = nir("1150175001004")  # born 2015: 10 in 2025


def activity(who: str, year: int = YEAR, hours: int = 160_700, **extra: Any) -> bytes:
    line = {
        "nir": who,
        "year": year,
        "activities": [{"kind": "employee", "worked_centihours": hours}],
    }
    return msgspec.json.encode({**line, **extra})


def write(path: Path, *lines: bytes, end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(lines) + end)
    return path


def rejects(path: Path) -> list[tuple[int, str]]:
    problems = [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]
    return [(p["line"], p["type"].removeprefix(PROBLEM)) for p in problems]


def leftovers(directory: Path) -> list[Path]:
    """Rejects files, kept or half-written."""
    return list(directory.glob("rejects*"))


async def stored(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "select person_id, year, revision, body::text as body from activity_declarations"
        " order by person_id, year, revision"
    )
    return [tuple(row) for row in rows]


@pytest.fixture
async def persons(db: asyncpg.Connection) -> dict[str, Any]:
    born = {ALICE: dt.date(1985, 5, 1), BOB: dt.date(1990, 1, 3), CHILD: dt.date(2015, 1, 2)}
    return {
        who: (await register_person(db, VAULT, NewPerson(nir=who, birth_date=birth))).id
        for who, birth in born.items()
    }


async def load(db: asyncpg.Connection, tmp_path: Path, *files: Path) -> Any:
    return await load_declarations(
        db, YEAR, files, today=TODAY, vault=VAULT, rejects_path=tmp_path / "rejects.ndjson"
    )


async def test_bad_lines_are_rejected_with_their_reason_and_good_ones_loaded_once(
    db: asyncpg.Connection, tmp_path: Path, persons: dict[str, Any]
) -> None:
    file = write(
        tmp_path / "activities-2025.ndjson",
        activity(ALICE),  # 1 good
        b'{"nir": "' + BOB.encode() + b'", "year": 2025, "activities": [',  # 2 malformed
        activity(NOBODY),  # 3 nobody registered with this NIR
        activity(BOB, 2027),  # 4 a future year
        activity(ALICE),  # 5 the same as line 1
        activity("185057512345699"),  # 6 a NIR whose key is wrong
        activity(BOB, 2024),  # 7 not the campaign's year
        activity(CHILD),  # 8 a child of ten
        activity(BOB, hours=-1),  # 9 negative hours
        b'{"nir": "' + BOB.encode() + b'", "year": 2025, "color": "red", "activities": []}',
        b"",  # blank lines are skipped, as the API skips them
        activity(BOB, hours=80_000),  # 12 good
        activity(ALICE, hours=1),  # 13 another line for ALICE's year: a duplicate
        activity(BOB)[:30],  # 14 the file is cut inside its last line
        end=b"",
    )
    report = await load(db, tmp_path, file)
    expected = [
        (2, "invalid-input"), (3, "person-not-found"), (4, "declaration-in-future"),
        (6, "invalid-nir"), (7, "outside-campaign-year"), (8, "impossible-career"),
        (9, "invalid-input"), (10, "invalid-input"), (14, "truncated-line"),
        (5, "duplicate-line"), (13, "duplicate-line"),
    ]  # fmt: skip
    assert rejects(tmp_path / "rejects.ndjson") == expected
    assert (report.lines, report.stored, report.unchanged, report.rejected) == (13, 2, 0, 11)
    assert report.rejected_by_type["duplicate-line"] == 2
    first = await stored(db)
    assert [(row[0], row[1], row[2]) for row in first] == sorted(
        [(persons[ALICE], YEAR, 1), (persons[BOB], YEAR, 1)]
    )
    again = await load(db, tmp_path, file)
    assert (again.stored, again.unchanged, again.rejected) == (0, 2, 11)
    assert await stored(db) == first
    assert rejects(tmp_path / "rejects.ndjson") == expected


async def test_a_changed_line_in_a_later_load_is_a_correction(
    db: asyncpg.Connection, tmp_path: Path, persons: dict[str, Any]
) -> None:
    """As through the API: the next revision, the earlier one kept."""
    await load(db, tmp_path, write(tmp_path / "activities-a.ndjson", activity(ALICE)))
    report = await load(
        db, tmp_path, write(tmp_path / "activities-b.ndjson", activity(ALICE, hours=90_000))
    )
    assert (report.stored, report.unchanged) == (1, 0)
    assert [row[2] for row in await stored(db)] == [1, 2]


async def test_a_load_that_fails_midway_leaves_nothing(
    db: asyncpg.Connection, tmp_path: Path, persons: dict[str, Any]
) -> None:
    good = write(tmp_path / "activities-2025.ndjson", activity(ALICE), activity("bad"))
    with pytest.raises(FileNotFoundError):
        await load(db, tmp_path, good, tmp_path / "activities-missing.ndjson")
    assert await stored(db) == []
    assert leftovers(tmp_path) == []
    with pytest.raises(UnknownFileKind):
        await load(db, tmp_path, write(tmp_path / "lines.ndjson", activity(ALICE)))


async def test_persons_are_registered_once_and_bad_lines_rejected(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    def person(who: str, born: str) -> bytes:
        return msgspec.json.encode({"nir": who, "birth_date": born})

    file = write(
        tmp_path / "persons.ndjson",
        person(ALICE, "1985-05-01"),
        person("185057512345699", "1985-05-01"),  # 2 invalid NIR
        person(ALICE, "1985-05-01"),  # 3 the same as line 1
        b'{"nir": 12}',  # 4 malformed
        person(BOB, "1990-01-03"),
    )
    report = await load_persons(db, [file], vault=VAULT, rejects_path=tmp_path / "r.ndjson")
    assert (report.stored, report.rejected) == (2, 3)
    assert sorted(rejects(tmp_path / "r.ndjson")) == [
        (2, "invalid-nir"), (3, "duplicate-line"), (4, "invalid-input"),
    ]  # fmt: skip
    again = await load_persons(db, [file], vault=VAULT, rejects_path=tmp_path / "r.ndjson")
    assert (again.stored, again.unchanged, again.rejected) == (0, 2, 3)
    other_birth = write(tmp_path / "persons-2.ndjson", person(BOB, "1990-01-04"))
    conflict = await load_persons(
        db, [other_birth], vault=VAULT, rejects_path=tmp_path / "r.ndjson"
    )
    assert rejects(tmp_path / "r.ndjson") == [(1, "person-already-registered")]
    assert conflict.stored == 0
    count = await db.fetchval("select count(*) from persons")
    assert count == 2


async def test_lines_may_name_their_person_by_id_as_through_the_api(
    db: asyncpg.Connection, tmp_path: Path, persons: dict[str, Any]
) -> None:
    def by_id(person_id: Any, year: int = YEAR) -> bytes:
        line = {"person_id": str(person_id), "year": year, "activities": [{"kind": "esat"}]}
        return msgspec.json.encode(line)

    unknown = "00000000-0000-4000-8000-000000000000"
    file = write(
        tmp_path / "activities.ndjson",
        by_id(persons[BOB]),
        by_id(unknown),  # 2 nobody has this id
        by_id(unknown, 2030),  # 3 the API checks the year before it looks for the id
        msgspec.json.encode(
            {"nir": ALICE, "person_id": str(persons[ALICE]), "year": YEAR, "activities": []}
        ),  # 4 named twice
    )
    report = await load(db, tmp_path, file)
    assert rejects(tmp_path / "rejects.ndjson") == [
        (2, "person-not-found"), (3, "declaration-in-future"), (4, "invalid-input"),
    ]  # fmt: skip
    assert report.stored == 1
    assert [row[0] for row in await stored(db)] == [persons[BOB]]


async def test_duplicates_across_batches_are_found_as_within_one(
    db: asyncpg.Connection, tmp_path: Path, persons: dict[str, Any], monkeypatch: Any
) -> None:
    """Batches of two lines: each is written while the next is checked, in one transaction;
    a line repeating one of an earlier batch is refused all the same."""
    monkeypatch.setattr(intake, "BATCH_LINES", 2)
    file = write(
        tmp_path / "activities.ndjson",
        activity(ALICE),
        activity(NOBODY),
        activity(BOB),
        activity(ALICE),  # 4 repeats line 1, written two batches ago
        activity(BOB, hours=5),  # 5 BOB's year again, otherwise
        activity(CHILD),
        activity(ALICE),  # 7
    )
    report = await load(db, tmp_path, file)
    assert sorted(rejects(tmp_path / "rejects.ndjson")) == [
        (2, "person-not-found"), (4, "duplicate-line"), (5, "duplicate-line"),
        (6, "impossible-career"), (7, "duplicate-line"),
    ]  # fmt: skip
    problems = (tmp_path / "rejects.ndjson").read_bytes().splitlines()
    assert b"the same as line 1 of" in problems[1]
    assert (report.stored, report.rejected) == (2, 5)
    assert [row[0] for row in await stored(db)] == sorted([persons[ALICE], persons[BOB]])
