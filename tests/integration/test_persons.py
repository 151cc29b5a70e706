import datetime as dt

import asyncpg
import pytest

from cpa.persons import (
    NewPerson,
    NirVault,
    PersonAlreadyRegistered,
    find_person_by_nir,
    register_person,
)

VAULT = NirVault(bytes(range(32)))


async def test_register_and_find_by_nir(db: asyncpg.Connection) -> None:
    person = await register_person(
        db, VAULT, NewPerson(nir="180057512345627", birth_date=dt.date(1980, 5, 1))
    )
    found = await find_person_by_nir(db, VAULT, "1 80 05 75 123 456 27")
    assert found.id == person.id


async def test_nir_is_not_in_clear_in_the_database(db: asyncpg.Connection) -> None:
    await register_person(
        db, VAULT, NewPerson(nir="180057512345627", birth_date=dt.date(1980, 5, 1))
    )
    dump = await db.fetchval("select string_agg(t::text, '|') from persons t")
    assert "180057512345627" not in dump
    assert b"180057512345627".hex() not in dump


async def test_same_nir_twice_is_a_conflict(db: asyncpg.Connection) -> None:
    new = NewPerson(nir="180057512345627", birth_date=dt.date(1980, 5, 1))
    await register_person(db, VAULT, new)
    with pytest.raises(PersonAlreadyRegistered):
        await register_person(db, VAULT, new)
