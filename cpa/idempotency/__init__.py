"""Idempotency keys: a client may repeat a POST safely (the ``Idempotency-Key`` header).

The same key with the same request returns the stored response and writes nothing new; the
same key with another request is refused (``idempotency-conflict``); keys live 24 h, then
each server process forgets them within ``KEY_PURGE_INTERVAL_S``. Keys are
per client. The key is claimed, the work done and the response stored in one transaction, so a
concurrent repeat waits for the first to finish and then gets its response. A request that
fails leaves no key behind (its transaction rolled back): repeating it runs it again.
"""

from cpa.idempotency.errors import IdempotencyConflict, IdempotencyKeyRequired
from cpa.idempotency.service import (
    KEY_LIFETIME,
    KEY_PURGE_INTERVAL_S,
    Claim,
    Replayable,
    claim,
    conflict,
    purge_idempotency_keys,
    run_idempotent,
)

__all__ = [
    "KEY_LIFETIME",
    "KEY_PURGE_INTERVAL_S",
    "Claim",
    "IdempotencyConflict",
    "IdempotencyKeyRequired",
    "Replayable",
    "claim",
    "conflict",
    "purge_idempotency_keys",
    "run_idempotent",
]
