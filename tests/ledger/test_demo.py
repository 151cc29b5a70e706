"""The demo careers are credited through the real path and the ledger verifies."""

from __future__ import annotations

import datetime as dt

import asyncpg

from cpa.demo.careers import load_demo_careers
from cpa.ledger import get_account, verify_ledger
from tests.ledger.support import new_person

ALL = ("cpf:read", "cec:read", "c2p:read", "services:read")


async def test_demo_careers_show_real_balances(db: asyncpg.Connection) -> None:
    persons = [
        await new_person(db, dt.date(1980, 5, 1)),
        await new_person(db, dt.date(1992, 1, 15)),
        await new_person(db, dt.date(1975, 2, 3)),
        await new_person(db, dt.date(1995, 6, 20)),
    ]
    await load_demo_careers(db, persons)
    now = dt.datetime.now(dt.UTC)
    accounts = [await get_account(db, p.id, ALL, now=now) for p in persons]
    assert all(a.cpf and a.cpf.statutory_cents > 0 for a in accounts)
    assert accounts[0].cec is not None and accounts[0].cec.balance_cents == 72_000
    assert accounts[2].c2p is not None and accounts[2].c2p.points_available > 20
    assert all(a.services for a in accounts)
    assert (await verify_ledger(db)).ok
