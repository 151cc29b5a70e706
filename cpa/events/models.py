"""Events as stored and as read back, with the cursor that orders them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import msgspec

from cpa.errors import InvalidInput

CURSOR_START = "0-0"
"""The cursor before the first event."""


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event as the outbox keeps it; ``person_id`` stays inside (clients know a ``sub``)."""

    id: int
    tx_id: str
    type: str
    subject_id: UUID
    subject_seq: int
    person_id: UUID
    client_id: str | None
    data: dict[str, Any]
    occurred_at: dt.datetime

    @property
    def cursor(self) -> str:
        """Where a reader resumes after this event (``GET /v1/events?after=…``)."""
        return f"{self.tx_id}-{self.id}"


def parse_cursor(cursor: str) -> tuple[str, int]:
    """``(tx_id, id)`` of a cursor given by a client: two decimal numbers, ``tx-id``."""
    tx_id, _, event_id = cursor.partition("-")
    if not (tx_id.isdecimal() and event_id.isdecimal()) or len(cursor) > CURSOR_LENGTH_MAX:
        raise InvalidInput(
            "not an event cursor", errors=[{"field": "after", "message": "not a cursor"}]
        )
    return tx_id, int(event_id)


CURSOR_LENGTH_MAX = 41
"""Two 64-bit numbers in decimal and their separator."""
