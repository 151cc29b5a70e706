"""The demo data set: believable persons, their careers and the partners that read them.

Loaded by ``make run`` into an empty database: four persons with fictitious but valid NIRs
(control key computed, so they can be typed at the login page) and known passwords, one
OAuth client of each kind with a known secret, and careers declared from 2015 on and credited
through the real campaign path. Never load it into a database that holds real persons.

An entry point (``python -m cpa demo``, ``make run``): nothing in cpa imports it but the
command line. ``persons`` (who), ``careers`` (their declarations, credited), ``auth`` (the
partners and the citizens' passwords), ``trainings`` (two bodies' catalogues, a few dossiers).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import structlog

from cpa.config import Settings
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.demo.auth import demo_credentials, demo_loaded, load_demo_auth, point_demo_clients
from cpa.demo.careers import load_demo_careers
from cpa.demo.persons import DEMO_PERSONS
from cpa.demo.trainings import load_demo_trainings
from cpa.persons import NirVault, register_person

log = structlog.get_logger(__name__)

LOADING_MARKER = "demo-loading"
"""In the data directory while the demo loader runs: `cpa serve` is not ready before it is gone."""


def loading_marker(settings: Settings) -> Path:
    return settings.data_dir / LOADING_MARKER


async def load_demo(db: Connection, vault: NirVault, settings: Settings) -> dict[str, Any] | None:
    """Load the demo set when the registry is empty; the credentials to show, else None. A
    set loaded before has its browser clients re-pointed at this server's port."""
    changed = await point_demo_clients(db, settings)
    if changed:
        log.info("demo_clients_repointed", clients=changed)
    if await db.fetchval(sql("count_persons")):
        return None
    async with db.transaction():
        persons = [await register_person(db, vault, person) for person in DEMO_PERSONS]
        await load_demo_careers(db, persons)
    credentials = await load_demo_auth(db, vault, settings)
    async with db.transaction():
        await load_demo_trainings(db, persons, now=dt.datetime.now(dt.UTC))
    log.info("demo_loaded", persons=len(persons), clients=len(credentials["clients"]))
    return credentials


__all__ = [
    "DEMO_PERSONS",
    "demo_credentials",
    "demo_loaded",
    "load_demo",
    "loading_marker",
]
