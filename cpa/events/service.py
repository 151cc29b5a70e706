"""The outbox: an event is written by the transaction that changed its subject, and read back
in cursor order once final (``sql/migrations/0002_events.sql`` says why the order is complete).

A transaction that changes a subject and records its events:

1. takes ``lock_subject(db, subject_id)`` before its first write (so the subject's events
   follow its history in the cursor order),
2. makes its change,
3. calls ``record_event`` for each event, on the same connection, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.events.models import StoredEvent, parse_cursor

EVENTS_PAGE_MAX = 500


async def lock_subject(db: Connection, subject_id: UUID) -> None:
    """The subject's lock until this transaction ends; take it before the first write."""
    await db.execute(sql("lock_event_subject"), subject_id)


async def record_event(
    db: Connection,
    *,
    type: str,
    subject_id: UUID,
    person_id: UUID,
    client_id: str | None,
    data: dict[str, Any],
    now: dt.datetime,
) -> int:
    """Append the subject's next event (``type``: ``noun.verb_past``, e.g. ``dossier.accepted``);
    ``client_id``: the client it concerns directly (a training body), if any. Its position in
    the subject's history is returned."""
    row = await db.fetchrow(sql("insert_event"), type, subject_id, person_id, client_id, data, now)
    assert row is not None, "an insert returns its row"
    position: int = row["subject_seq"]
    return position


async def events_after(
    db: Connection, client_id: str, cursor: str, *, limit: int, now: dt.datetime
) -> list[StoredEvent]:
    """The final events ``client_id`` may see after ``cursor``, in order: its own, and those of
    persons who consented to it (active consent at ``now``)."""
    tx_id, event_id = parse_cursor(cursor)
    rows = await db.fetch(
        sql("list_events_after"), tx_id, event_id, client_id, min(limit, EVENTS_PAGE_MAX), now
    )
    return [from_row(StoredEvent, row) for row in rows]
