"""Operating errors of the idempotency store."""

from __future__ import annotations

from cpa.errors import Conflict


class IdempotencyConflict(Conflict):
    """This idempotency key was already used for another request."""

    slug = "idempotency-conflict"
