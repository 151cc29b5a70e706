"""Deliverers racing on one database (as the workers of several server processes do) send
each delivery once: a claim locks its rows (others skip them) and leases them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from uuid import uuid4

import asyncpg

from cpa.db.database import ConnectionDatabase
from cpa.persons import NirVault
from cpa.webhooks import (
    Deliverer,
    DeliveryPolicy,
    NewSubscription,
    SecretBox,
    create_subscription,
    fan_out_events,
)
from tests.ledger.support import random_nir
from tests.webhooks.support import connect, partner, person, receiving, write_event

DELIVERERS = 4
SUBJECTS = 150
POLICY = DeliveryPolicy(attempt_timeout_s=5, backoff_first_s=5, backoff_max_s=5, failures_max=9)
BOX = SecretBox(bytes(range(32)))
RUNS_MAX = 10


async def _due_events(db: asyncpg.Connection, url: str) -> None:
    body, _ = await partner(db, "training_body", "body-claims")
    who = await person(db, NirVault(bytes(range(32))), random_nir(dt.date(1979, 1, 1)))
    new = NewSubscription(url=url, events=["dossier.validated"])
    await create_subscription(db, BOX, body, new, now=dt.datetime.now(dt.UTC))
    for _ in range(SUBJECTS):
        await write_event(db, uuid4(), who, body, "dossier.validated")
    assert await fan_out_events(ConnectionDatabase(db), dt.datetime.now(dt.UTC)) == SUBJECTS


async def test_racing_deliverers_send_each_delivery_once(fresh_dsn: str) -> None:
    connections = [await connect(fresh_dsn) for _ in range(DELIVERERS)]
    try:
        async with receiving() as receiver:
            await _due_events(connections[0], receiver.url)
            deliverers = [Deliverer(BOX, POLICY) for _ in connections]
            for _ in range(RUNS_MAX):
                runs = [
                    deliver(ConnectionDatabase(db), dt.datetime.now(dt.UTC))
                    for deliver, db in zip(deliverers, connections, strict=True)
                ]
                await asyncio.gather(*runs)
                if len(receiver.received) >= SUBJECTS:
                    break
            purged = await _kept_then_purged(connections[0])
    finally:
        for connection in connections:
            await connection.close()
    sent = Counter(request.headers["webhook-id"] for request in receiver.received)
    assert len(sent) == SUBJECTS
    assert sent.most_common(1)[0][1] == 1, "a delivery was sent twice"
    assert purged == (SUBJECTS, 0), "accepted deliveries kept a week, then purged"


async def _kept_then_purged(db: asyncpg.Connection) -> tuple[int, int]:
    """Accepted deliveries left by a fan-out run 6 days later, then by one 8 days later."""
    counts = []
    for days in (6, 8):
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        await fan_out_events(ConnectionDatabase(db), later)
        counts.append(await db.fetchval("select count(*) from webhook_deliveries"))
    return counts[0], counts[1]
