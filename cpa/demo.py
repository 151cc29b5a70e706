"""The demo data set: a few believable persons, loaded into an empty database by ``make run``.

Their NIRs are fictitious but valid (control key computed), so they can be typed at the login
page; later domains add their careers, clients and passwords here.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import structlog

from cpa.accounts import NewPerson, NirVault, nir_key, register_person
from cpa.db.queries import sql

log = structlog.get_logger(__name__)


def _nir(number13: str) -> str:
    return number13 + nir_key(number13)


DEMO_PERSONS = [
    NewPerson(nir=_nir("1800575123456"), birth_date=dt.date(1980, 5, 1)),
    NewPerson(nir=_nir("2920169123123"), birth_date=dt.date(1992, 1, 15)),
    NewPerson(nir=_nir("1580213055001"), birth_date=dt.date(1958, 2, 3)),
    NewPerson(nir=_nir("295062A012345"), birth_date=dt.date(1995, 6, 20)),
]


async def load_demo(db: asyncpg.Connection, vault: NirVault) -> bool:
    """Load the demo set when the registry is empty; True when loaded."""
    if await db.fetchval(sql("count_persons")):
        return False
    async with db.transaction():
        for person in DEMO_PERSONS:
            await register_person(db, vault, person)
    log.info("demo_loaded", persons=len(DEMO_PERSONS))
    return True
