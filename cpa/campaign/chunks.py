"""Crediting one chunk of a year's persons, set-based: the chunk's persons locked, their
declarations, credit records, balances and pending holds read by one set query each, every
person's year planned by the ledger's own ``plan_credit`` (the rules' ``year_credit``, the
function ``credit_year`` and the simulation run), the entries appended with COPY, the balances
and credit records written by one statement each (the account summaries follow, once per
statement and person, by the credit records' statement trigger). The caller holds the
transaction: the chunk is written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec

from cpa.campaign.models import ChunkStats
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.ledger.crediting import (
    CreditPlan,
    CreditState,
    check_creditable,
    held_of,
    plan_credit,
    records_of,
)
from cpa.ledger.models import NewEntry
from cpa.provenance import SYSTEM, Provenance
from cpa.rules.accounts import DEBT_POTS, POT_UNITS
from cpa.rules.cpf import FIRST_EURO_YEAR
from cpa.rules.params import int_value, value_at

FULL_TIME_PERCENT_MIN = 95
"""The report counts an employee's year as full time from this share of its reference time
(leave and sickness shorten a full-time year): a reporting convention, not a rule of law."""
ENTRY_COLUMNS = (
    "person_id", "pot", "kind", "amount", "unit", "effective_on", "correlation_id",
    "credit_year", "rule_id", "parameter_effective_from", "legal_reference", "trace",
    "declaration_id", "client_id",
)  # fmt: skip


class ChunkWrite(msgspec.Struct, kw_only=True):
    """What a chunk writes, in the shape its statements take: entry records for COPY (the
    trace as the Struct itself: the connection's jsonb codec, ``cpa.db.pool``, encodes it),
    the balances' deltas and the credit records as parallel arrays."""

    entries: list[tuple[Any, ...]]
    balances: tuple[list[UUID], list[str], list[int]]
    credits: tuple[list[Any], ...]


async def credit_chunk(
    db: Connection,
    year: int,
    first: UUID | None,
    end: UUID | None,
    *,
    today: dt.date,
    provenance: Provenance = SYSTEM,
) -> ChunkStats:
    """Credit ``year`` to the persons of ids in [first, end) (None: unbounded) who declared
    something for it, in the caller's transaction; the chunk's figures."""
    check_creditable(year, today)
    started = time.perf_counter()
    persons = await db.fetch(sql("list_chunk_persons"), year, first, end)
    ids = [row["id"] for row in persons]
    if ids:
        await db.execute(sql("ensure_ledger_accounts"), ids)
        await db.fetch(sql("lock_ledger_accounts"), ids)
    states = await chunk_states(db, persons, year)
    read = time.perf_counter()
    plans = [plan_credit(state, year, today) for state in states]
    write = chunk_write(plans, provenance)
    planned = time.perf_counter()
    await write_chunk(db, write)
    written = time.perf_counter()
    stats = chunk_stats(year, states, plans)
    stats.ms = {"read": _ms(read - started), "plan": _ms(planned - read),
                "write": _ms(written - planned)}  # fmt: skip
    return stats


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


async def chunk_states(db: Connection, persons: Sequence[Any], year: int) -> list[CreditState]:
    """Each person's ``CreditState``, read by one query per kind of row for the whole chunk."""
    ids = [row["id"] for row in persons]
    activities = {
        r["person_id"]: r for r in await db.fetch(sql("list_chunk_activities"), ids, year)
    }
    exposures = _grouped(await db.fetch(sql("list_chunk_exposures"), ids, year))
    engagements = _grouped(await db.fetch(sql("list_chunk_engagements"), ids, year))
    credits = _grouped(await db.fetch(sql("list_chunk_credits"), ids))
    held = {r["person_id"]: held_of(r) for r in await db.fetch(sql("list_chunk_held"), ids)}
    balances: dict[UUID, dict[str, int]] = defaultdict(dict)
    for row in await db.fetch(sql("list_chunk_balances"), ids):
        balances[row["person_id"]][row["pot"]] = row["balance"]
    return [
        CreditState(
            person_id=p["id"],
            birth_date=p["birth_date"],
            full_rate_retirement_on=p["full_rate_retirement_on"],
            records=records_of(credits.get(p["id"], ())),
            balances=balances.get(p["id"], {}),
            held=held.get(p["id"], {}),
            activity=activities.get(p["id"]),
            engagements=engagements.get(p["id"], []),
            exposures=exposures.get(p["id"], []),
        )
        for p in persons
    ]


def _grouped(rows: Sequence[Any]) -> dict[UUID, list[Any]]:
    """Rows by person, in the order the query gave them."""
    grouped: dict[UUID, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row["person_id"]].append(row)
    return grouped


def chunk_write(plans: Sequence[CreditPlan], provenance: Provenance) -> ChunkWrite:
    """The chunk's plans as the records and arrays its three statements take."""
    entries = [_entry_record(e, provenance) for plan in plans for e in plan.entries]
    deltas: dict[tuple[UUID, str], int] = defaultdict(int)
    for plan in plans:
        for entry in plan.entries:
            deltas[(entry.person_id, entry.pot)] += entry.amount
    # A pot whose entries add up to nothing still gets its row, as append_entries gives it.
    changed = list(deltas.items())
    balances = ([k[0] for k, _ in changed], [k[1] for k, _ in changed], [a for _, a in changed])
    rows = [credit for plan in plans for credit in plan.credits]
    credits = tuple([row[i] for row in rows] for i in range(8))
    return ChunkWrite(entries=entries, balances=balances, credits=credits)


def _entry_record(entry: NewEntry, provenance: Provenance) -> tuple[Any, ...]:
    trace = entry.trace
    assert trace is not None and entry.grant_id is None, "credits trace and take no grant"
    assert entry.pot in DEBT_POTS, "credits go to the accounts' own pots"
    return (
        entry.person_id, entry.pot, entry.kind, entry.amount, POT_UNITS[entry.pot],
        entry.effective_on, entry.correlation_id, entry.credit_year, trace.rule_id,
        trace.parameter_effective_from, trace.legal_reference, trace,
        entry.declaration_id, provenance.client_id,
    )  # fmt: skip


async def write_chunk(db: Connection, write: ChunkWrite) -> None:
    """The entries appended (COPY), then the balances and the credit records (one statement
    each): the floor the campaign's bench compares the run with is this function alone."""
    if write.entries:
        await db.copy_records_to_table(
            "ledger_entries", records=write.entries, columns=ENTRY_COLUMNS
        )
    if write.balances[0]:
        await db.execute(sql("add_chunk_balances"), *write.balances)
    if write.credits[0]:
        await db.execute(sql("upsert_chunk_credits"), *write.credits)


# -- the chunk's figures ---------------------------------------------------------------------


def chunk_stats(
    year: int, states: Sequence[CreditState], plans: Sequence[CreditPlan]
) -> ChunkStats:
    """What the chunk credited, for the status and the report."""
    stats = ChunkStats()
    for state, plan in zip(states, plans, strict=True):
        _count_person(stats, year, state, plan)
    return stats


def _count_person(stats: ChunkStats, year: int, state: CreditState, plan: CreditPlan) -> None:
    kinds = {note.line.kind for note in plan.notes}
    stats.persons += 1
    if "accrual" in kinds:
        stats.credited += 1
        for category in _categories(year, plan):
            stats.categories[category] = stats.categories.get(category, 0) + 1
    if any(entry.kind == "adjustment" for entry in plan.entries):
        stats.adjusted += 1  # a recomputation that changes nothing posts no adjustment
    elif "accrual" not in kinds and not plan.entries:
        stats.unchanged += 1
    for note in plan.notes:
        if note.capped:
            stats.capped[note.pot] = stats.capped.get(note.pot, 0) + 1
            stats.cut[note.pot] = stats.cut.get(note.pot, 0) + note.gross - note.line.amount
    for entry in plan.entries:
        _add(stats.entries, entry.kind, 1)
        by_kind = {"accrual": stats.accrued, "adjustment": stats.adjusted_amounts}
        _add(by_kind.get(entry.kind, stats.converted), entry.pot, entry.amount)
    debts = {pot: b for pot, b in plan.balances.items() if b < 0}
    if debts:
        stats.owing += 1
        for pot, balance in debts.items():
            _add(stats.debts, pot, balance)


def _add(counts: dict[str, int], key: str, amount: int) -> None:
    counts[key] = counts.get(key, 0) + amount


def _categories(year: int, plan: CreditPlan) -> set[str]:
    """The report's categories of a person credited for the CPF (several may apply)."""
    cpf = next((note for note in plan.notes if note.line.account == "cpf"), None)
    if cpf is None:
        return set()
    inputs, categories = cpf.inputs, set[str]()
    for activity in inputs.activities or ():
        if activity.kind != "employee":
            categories.add(activity.kind)
            continue
        reference = activity.reference_centihours or _legal_reference_centihours(year)
        full = activity.worked_centihours * 100 >= reference * FULL_TIME_PERCENT_MIN
        categories.add("employee_full_time" if full else "employee_part_time")
    if inputs.status.low_qualified:
        categories.add("low_qualified")
    if inputs.status.disability:
        categories.add("disability")
    return categories


def _legal_reference_centihours(year: int) -> int:
    """The yearly working time a declaration without its own reference is measured against."""
    era = "cpf.eur" if year >= FIRST_EURO_YEAR else "cpf.h"
    return int_value(value_at(f"{era}.reference_hours", dt.date(year, 1, 1)))
