"""Which pots a CPF debit takes from, in which order (décret 2025-1156, CT R6333-3).

Pure: no I/O, the date is passed in. Order: 1) dotations and abondements earmarked to the
account (soonest deadline first), 2) the holder's statutory rights, 3) CEC rights,
4) complementary abondements that are not earmarked.

Choices where the texts leave it open: an earmarked grant tied to a training only funds that
training; a grant past its ``use_by`` date funds nothing; after full-rate retirement only CEC
rights stay usable (CT L6323-2, last paragraph), after death nothing; a negative statutory or
CEC balance (a debt, OQ-5) funds nothing and does not block the other pots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from uuid import UUID

import msgspec

from cpa.ledger.errors import InsufficientRights
from cpa.ledger.models import Allocation


class Source(msgspec.Struct, frozen=True, kw_only=True):
    pot: str
    grant_id: UUID | None
    balance_cents: int
    earmarked: bool = False
    training_ref: str | None = None
    use_by: dt.date | None = None


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    full_rate_retirement_on: dt.date | None = None
    death_on: dt.date | None = None


_FAR = dt.date.max


def _tier(source: Source) -> int:
    if source.pot == "dotation" or (source.pot == "abondement" and source.earmarked):
        return 0
    return {"cpf_statutory": 1, "cec": 2, "abondement": 3}.get(source.pot, 9)


def _usable(source: Source, holder: Holder, training_ref: str | None, on: dt.date) -> bool:
    if source.balance_cents <= 0 or _tier(source) == 9:
        return False
    if holder.death_on is not None and holder.death_on <= on:
        return False
    retired = holder.full_rate_retirement_on is not None and holder.full_rate_retirement_on <= on
    if retired and source.pot != "cec":
        return False
    if source.use_by is not None and source.use_by < on:
        return False
    return source.training_ref is None or source.training_ref == training_ref


def debit_order(
    sources: Iterable[Source], holder: Holder, training_ref: str | None, on: dt.date
) -> list[Source]:
    """The usable sources for a debit on ``on``, in the order they are drawn."""
    usable = [s for s in sources if _usable(s, holder, training_ref, on)]
    return sorted(usable, key=lambda s: (_tier(s), s.use_by or _FAR, str(s.grant_id)))


def available_cents(sources: Sequence[Source], holder: Holder, on: dt.date) -> int:
    """What a debit with no particular training could take now (earmarked grants included)."""
    usable = [
        s
        for s in sources
        if _usable(msgspec.structs.replace(s, training_ref=None), holder, None, on)
    ]
    return sum(s.balance_cents for s in usable)


def allocate(amount_cents: int, ordered: Sequence[Source]) -> list[Allocation]:
    """Take ``amount_cents`` from ``ordered`` sources in turn; refuse when they do not suffice."""
    remaining = amount_cents
    allocations: list[Allocation] = []
    for source in ordered:
        if remaining == 0:
            break
        take = min(remaining, source.balance_cents)
        allocations.append(
            Allocation(pot=source.pot, grant_id=source.grant_id, amount_cents=take)  # type: ignore[arg-type]
        )
        remaining -= take
    if remaining:
        total = amount_cents - remaining
        raise InsufficientRights(
            f"{amount_cents} cents asked, {total} available", available_cents=total
        )
    return allocations


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
