"""The ledger's write primitive and its proof: entries are appended with their balances in one
statement, and ``verify_ledger`` shows every balance equals the sum of its entries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import msgspec

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.ledger.models import (
    LedgerMismatch,
    LedgerReport,
    NewEntry,
    Provenance,
)
from cpa.rules.accounts import DEBT_POTS

# Pots that can never go below zero; the others may carry a debt (OQ-5).
NON_NEGATIVE_POTS = frozenset({"abondement", "dotation", "cpf_held"})


async def lock_person_ledger(db: Connection, person_id: UUID) -> None:
    """Take the person's ledger lock until the end of the transaction (creating the row)."""
    with domain_errors():
        await db.execute(sql("ensure_ledger_account"), person_id)
    await db.execute(sql("lock_ledger_account"), person_id)


@asynccontextmanager
async def person_ledger_locked(db: Connection, person_id: UUID) -> AsyncIterator[None]:
    """A transaction holding the person's ledger lock: every write that reads a balance and
    appends entries runs inside one, so two of them for a person never interleave."""
    async with db.transaction():
        await lock_person_ledger(db, person_id)
        yield


async def append_entries(
    db: Connection, entries: Sequence[NewEntry], provenance: Provenance
) -> dict[tuple[str, UUID | None], int]:
    """Append ``entries`` and update their balances; return the new balances they touched."""
    if not entries:
        return {}
    traces = [e.trace for e in entries]
    columns = (
        [e.person_id for e in entries],
        [e.pot for e in entries],
        [e.grant_id for e in entries],
        [e.kind for e in entries],
        [e.amount for e in entries],
        [e.effective_on for e in entries],
        [e.correlation_id for e in entries],
        [e.hold_id for e in entries],
        [e.credit_year for e in entries],
        [t.rule_id if t else None for t in traces],
        [t.parameter_effective_from if t else None for t in traces],
        [t.legal_reference if t else None for t in traces],
        [msgspec.json.encode(t).decode() if t else None for t in traces],
        [e.declaration_id for e in entries],
    )
    assert all(e.amount != 0 for e in entries), "entries carry a non-zero amount"
    with domain_errors():
        rows = await db.fetch(
            sql("append_entries"),
            *columns,
            provenance.client_id,
            provenance.token_jti,
            provenance.idempotency_key,
        )
    balances = {(row["pot"], row["grant_id"]): row["balance"] for row in rows}
    for (pot, _), balance in balances.items():
        assert pot not in NON_NEGATIVE_POTS or balance >= 0, f"{pot} below zero after a write"
    return balances


async def verify_ledger(db: Connection) -> LedgerReport:
    """Every balance equals the sum of its entries, held euros equal the pending holds, each
    ledger row's balance columns equal the balances they mirror (and its bounds hold), every
    account summary equals a fresh build from the tables, no pot that may not owe is below
    zero, and every hold's allocations add up to it."""
    mismatches = [
        from_row(LedgerMismatch, row) for row in await db.fetch(sql("list_balance_mismatches"))
    ]
    mismatches += [
        LedgerMismatch(
            person_id=row["person_id"],
            pot="cpf_held (pending holds)",
            grant_id=None,
            balance=row["balance"],
            entries_sum=row["held"],
        )
        for row in await db.fetch(sql("list_held_mismatches"))
    ]
    mismatches += [
        LedgerMismatch(
            person_id=row["person_id"],
            pot=f"{row['pot']} (ledger row)",
            grant_id=None,
            balance=row["balance"],
            entries_sum=row["entries_sum"],
        )
        for row in await db.fetch(sql("list_ledger_row_mismatches"))
    ]
    mismatches += [
        from_row(LedgerMismatch, row, pot=f"{row['pot']} (account row)", grant_id=None)
        for row in await db.fetch(sql("list_account_row_mismatches"))
    ]
    overdrawn = await db.fetch(sql("list_overdrawn_balances"), sorted(DEBT_POTS))
    counts = await db.fetchrow(sql("count_ledger"))
    assert counts is not None
    return LedgerReport(
        balances_checked=counts["balances"],
        entries_checked=counts["entries"],
        mismatches=mismatches,
        stale_summaries=[
            row["person_id"] for row in await db.fetch(sql("list_stale_account_summaries"))
        ],
        overdrawn=[from_row(LedgerMismatch, row, entries_sum=None) for row in overdrawn],
        unbalanced_holds=[row["id"] for row in await db.fetch(sql("list_unbalanced_holds"))],
    )
