"""The demo data set: believable persons, their careers and the partners that read them.

Loaded by ``make run`` into an empty database: four persons with fictitious but valid NIRs
(control key computed, so they can be typed at the login page) and known passwords, one
OAuth client of each kind with a known secret, and careers declared from 2015 on and credited
through the real campaign path. Never load it into a database that holds real persons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from cpa.accounts import NewPerson, NirVault, nir_key, register_person
from cpa.config import Settings
from cpa.db.database import Connection
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


async def load_demo(db: Connection, vault: NirVault, settings: Settings) -> dict[str, Any] | None:
    """Load the demo set when the registry is empty; the credentials to show, else None."""
    from cpa.auth.demo import load_demo_auth
    from cpa.ledger.demo import load_demo_careers

    if await db.fetchval(sql("count_persons")):
        return None
    async with db.transaction():
        persons = [await register_person(db, vault, person) for person in DEMO_PERSONS]
        await load_demo_careers(db, persons)  # type: ignore[arg-type]
    credentials = await load_demo_auth(db, vault, settings)
    log.info("demo_loaded", persons=len(persons), clients=len(credentials["clients"]))
    return credentials
