"""Operating errors of the idempotency store."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, CpaError, InvalidInput


class IdempotencyConflict(Conflict, slug="idempotency-conflict"):
    """This idempotency key was already used for another request."""


class IdempotencyKeyRequired(CpaError, slug="idempotency-key-required", status=428):
    """This request moves money: send an Idempotency-Key header.

    428 Precondition Required (RFC 6585 §3) rather than 400: the request itself is well formed,
    what is missing is the condition under which the server accepts a write that a lost
    response would otherwise make the client repeat (a second debit). RFC 6585 made 428 for
    exactly this, the lost update; a client, or a generic retry layer, tells it from a body
    the server refused by its status alone. (The IETF draft on the header suggests 400: any
    client that handles 4xx as "fix the request" handles 428 so too.)
    """


register({"idempotency_keys_key_length": InvalidInput})
