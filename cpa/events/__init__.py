"""Events: the outbox every state change and money movement of a training purchase is written
to, in the transaction that made it; webhooks deliver them and ``GET /v1/events`` replays
them in the same order (at-least-once delivery plus replay: nothing lost)."""

from cpa.events.models import CURSOR_START, StoredEvent, parse_cursor
from cpa.events.service import EVENTS_PAGE_MAX, events_after, lock_subject, record_event

__all__ = [
    "CURSOR_START",
    "EVENTS_PAGE_MAX",
    "StoredEvent",
    "events_after",
    "lock_subject",
    "parse_cursor",
    "record_event",
]
