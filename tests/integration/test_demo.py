"""The demo data set loads once, through the real paths, and the ledger verifies."""

import asyncpg

from cpa.config import Settings
from cpa.demo import DEMO_PERSONS, load_demo
from cpa.ledger.entries import verify_ledger
from cpa.persons import NirVault


async def test_demo_loads_once_with_credentials(db: asyncpg.Connection, settings: Settings) -> None:
    vault = NirVault(bytes(range(32)))
    credentials = await load_demo(db, vault, settings)
    assert credentials is not None
    assert {c["kind"] for c in credentials["clients"]} == {
        "portal",
        "training_body",
        "advisor_tool",
        "operator",
    }
    assert len(credentials["persons"]) == len(DEMO_PERSONS)
    states = await db.fetch("select state from dossiers order by state")
    assert [row["state"] for row in states] == [
        "accepted", "notProcessed", "serviceDoneValidated", "validated"
    ]  # fmt: skip
    assert await load_demo(db, vault, settings) is None
    assert await db.fetchval("select count(*) from ledger_entries") > 0
    assert (await verify_ledger(db)).ok
