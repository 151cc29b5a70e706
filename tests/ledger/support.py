"""Helpers for ledger and declarations tests: persons, declarations, the fixed clock."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import secrets
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from cpa.declarations import (
    ActivityDeclaration,
    DeclaredActivity,
    declare_activities,
)
from cpa.persons import NewPerson, NirVault, Person, nir_key, register_person

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
VAULT = NirVault(secrets.token_bytes(32))
FULL_TIME = 160_700  # centihours: the 1,607 h legal reference


_SERIAL = itertools.count(random.randrange(10**5) * 10)


def random_nir(birth_date: dt.date) -> str:
    """A valid NIR, unique within a run (a serial number) and rarely reused across runs."""
    serial = next(_SERIAL) % 10**6
    number = f"1{birth_date.year % 100:02d}{birth_date.month:02d}75{serial:06d}"
    return number + nir_key(number)


async def new_person(
    db: asyncpg.Connection, birth_date: dt.date = dt.date(1985, 3, 1), **status: Any
) -> Person:
    new = NewPerson(nir=random_nir(birth_date), birth_date=birth_date, **status)
    return await register_person(db, VAULT, new)


def activity_line(
    person_id: UUID, year: int, worked_centihours: int = FULL_TIME, **flags: bool
) -> ActivityDeclaration:
    return ActivityDeclaration(
        person_id=person_id,
        year=year,
        activities=[DeclaredActivity(kind="employee", worked_centihours=worked_centihours)],
        **flags,
    )


async def declare_year(
    db: asyncpg.Connection, person_id: UUID, year: int, worked_centihours: int = FULL_TIME
) -> None:
    result = await declare_activities(
        db, [activity_line(person_id, year, worked_centihours)], today=TODAY
    )
    assert result.accepted == 1, result


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)
