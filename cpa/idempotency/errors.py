"""Operating errors of the idempotency store."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput


class IdempotencyConflict(Conflict, slug="idempotency-conflict"):
    """This idempotency key was already used for another request."""


register({"idempotency_keys_key_length": InvalidInput})
