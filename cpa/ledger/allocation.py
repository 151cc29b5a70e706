"""How a post splits a hold's allocations between what it uses and what it releases.

The order in which a debit draws on the pots (décret 2025-1156, CT R6333-3) is a rule,
``cpa.rules.debit``; SQL receives it (``pots_for_debit``, sql/schema.sql), which holds
draw on and the account read sums. A post uses a hold's allocations in the order the hold took
them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpa.ledger.models import Allocation


def consume(allocations: Sequence[Allocation], amount_cents: int) -> tuple[list[int], list[int]]:
    """Split each allocation into (posted, released) parts: a post uses them in debit order."""
    posted, released = [], []
    remaining = amount_cents
    for allocation in allocations:
        take = min(remaining, allocation.amount_cents)
        posted.append(take)
        released.append(allocation.amount_cents - take)
        remaining -= take
    assert remaining == 0, "a post never exceeds what its hold reserved"
    return posted, released
