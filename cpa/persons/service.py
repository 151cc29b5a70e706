"""Persons registry services: register a person, find one by NIR or by id."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.persons.errors import PersonAlreadyRegistered, PersonNotFound
from cpa.persons.models import NewPerson, Person
from cpa.persons.nir import NirVault, normalise_nir


def _person(row: Any) -> Person:
    return from_row(Person, row)


async def register_person(db: Connection, vault: NirVault, new: NewPerson) -> Person:
    nir = normalise_nir(new.nir)
    try:
        row = await db.fetchrow(
            sql("insert_person"),
            vault.lookup_hash(nir),
            vault.encrypt(nir),
            new.birth_date,
            new.death_on,
            new.full_rate_retirement_on,
        )
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name == "persons_nir_hmac_key":
            raise PersonAlreadyRegistered() from error
        raise
    return _person(row)


async def find_person_by_nir(db: Connection, vault: NirVault, nir: str) -> Person:
    row = await db.fetchrow(sql("get_person_by_nir_hmac"), vault.lookup_hash(normalise_nir(nir)))
    if row is None:
        raise PersonNotFound()
    return _person(row)


async def get_person(db: Connection, person_id: UUID) -> Person:
    row = await db.fetchrow(sql("get_person"), person_id)
    if row is None:
        raise PersonNotFound()
    return _person(row)
