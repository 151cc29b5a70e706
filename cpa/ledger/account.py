"""The account read model: the whole account in one row, entries, explanations.

Scopes are data masks: a section (or an entry's pot) is returned only with its scope
(``POT_SCOPES``; ``services:read`` for linked services). A read that finds holds past their
expiry that the sweep has not released yet releases them first, as the sweep would, so a
reader never sees rights locked by a dead hold.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.ledger.errors import EntryNotFound, InvalidCursor
from cpa.ledger.holds import release_lapsed_holds
from cpa.ledger.models import (
    POT_SCOPES,
    Account,
    C2pView,
    CecView,
    CpfView,
    DeclarationRef,
    Entry,
    EntryExplanation,
    EntryFilter,
    EntryPage,
    LinkedServiceView,
)
from cpa.persons import PersonNotFound
from cpa.rules import c2p_points_reserved_remaining
from cpa.rules.debit import debit_order

PAGE_SIZE_MAX = 200
PAGE_SIZE_DEFAULT = 50

_object = msgspec.json.Decoder(dict[str, Any])


class _Summary(msgspec.Struct, frozen=True):
    """The account document of ``account_summary_of`` (sql/schema.sql)."""

    birth_date: dt.date
    death_on: dt.date | None
    full_rate_retirement_on: dt.date | None
    points_used: dict[str, int]  # C2P points used so far, by use
    last_credited_on: dt.date | None
    services: list[tuple[str, str, str, str, dt.datetime]]


_summary = msgspec.json.Decoder(_Summary)


async def get_account(
    db: Connection,
    person_id: UUID,
    scopes: Iterable[str],
    *,
    now: dt.datetime,
) -> Account:
    """Balances, held, C2P points, linked services and last crediting date, masked by scope.

    One primary-key lookup: the person's ledger row holds all of it (sql/schema.sql,
    ledger_locks). Past the row's ``next_pending_expiry`` a hold may have lapsed (pending past
    its expiry, not yet released by the sweep): it is released first, as the sweep would, so
    that no reader sees rights locked by a dead hold, and the bound is settled.
    """
    row = await _read(db, person_id)
    pending_until = row["next_pending_expiry"]
    if pending_until is not None and pending_until <= now:
        await release_lapsed_holds(db, person_id, now)
        await db.execute(sql("settle_account_row"), person_id)
        row = await _read(db, person_id)
    summary = _summary.decode(row["summary"])
    granted = frozenset(scopes)
    cpf = None
    if "cpf:read" in granted:
        cpf = _cpf(await _available_cents(db, person_id, row, summary, now.date()), row)
    return Account(
        person_id=person_id,
        as_of=now,
        last_credited_on=summary.last_credited_on,
        cpf=cpf,
        cec=CecView(balance_cents=row["cec_cents"]) if "cec:read" in granted else None,
        c2p=_c2p(summary, row["c2p_points"], now) if "c2p:read" in granted else None,
        services=_services(summary.services) if "services:read" in granted else None,
    )


async def _read(db: Connection, person_id: UUID) -> asyncpg.Record:
    row = await db.fetchrow(sql("get_account"), person_id)
    if row is None:
        raise PersonNotFound()
    return row


async def _available_cents(
    db: Connection, person_id: UUID, row: asyncpg.Record, summary: _Summary, on: dt.date
) -> int:
    """What a debit could draw on ``on``: the row's sums by debit source, in the rule's order,
    with the ledger's facts pots_for_debit applies (sql/schema.sql: nothing after death, only
    the after-retirement sources after full-rate retirement, a debt funds nothing). Past a
    grant's use-by date the sums would count a grant that funds nothing: the balance rows
    decide (get_account_available)."""
    order = debit_order(on)
    use_by = row["grants_use_by_min"]
    if use_by is not None and use_by < on:
        available = await db.fetchval(
            sql("get_account_available"), person_id, on, order.sources, order.after_retirement
        )
        return int(available)
    if summary.death_on is not None and summary.death_on <= on:
        return 0
    retired = summary.full_rate_retirement_on is not None and summary.full_rate_retirement_on <= on
    by_source = {
        "earmarked": row["earmarked_cents"],
        "cpf_statutory": max(row["statutory_cents"], 0),
        "cec": max(row["cec_cents"], 0),
        "abondement": row["abondement_cents"],
    }
    return sum(by_source[source] for source in order.usable(retired=retired))


def _services(rows: Sequence[tuple[Any, ...]]) -> list[LinkedServiceView]:
    return [
        LinkedServiceView(id=id_, name=name, category=category, url=url, linked_at=linked_at)
        for id_, name, category, url, linked_at in rows
    ]


def _cpf(available_cents: int, row: asyncpg.Record) -> CpfView:
    statutory = row["statutory_cents"]
    return CpfView(
        available_cents=available_cents,
        held_cents=row["held_cents"],
        statutory_cents=max(statutory, 0),
        abondements_cents=row["abondement_cents"] + row["earmarked_cents"],
        debt_cents=max(-statutory, 0),
    )


def _c2p(summary: _Summary, points: int, now: dt.datetime) -> C2pView:
    used = summary.points_used
    reserved = c2p_points_reserved_remaining(summary.birth_date, now.date(), points, used)
    return C2pView(
        points_available=max(points, 0),
        points_reserved_for_training=reserved,
        debt_points=max(-points, 0),
    )


# -- entries -------------------------------------------------------------------------------


def visible_pots(scopes: Iterable[str]) -> list[str]:
    granted = frozenset(scopes)
    return [pot for pot, scope in POT_SCOPES.items() if scope in granted]


async def list_entries(
    db: Connection,
    person_id: UUID,
    scopes: Iterable[str],
    *,
    filters: EntryFilter | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
    viewer: str | None = None,
) -> EntryPage:
    """One page of entries, newest first; ``next_cursor`` continues after the last one.

    ``viewer``: the client reading. A hold's entries carry its id only for the client that
    created it: to any other (another training body, a portal, an advisor), another body's
    hold is an amount, without its counterparty or reference (data minimisation). ``None``
    (the operator's own tools) sees every id."""
    filters = filters or EntryFilter()
    pots = visible_pots(scopes)
    if filters.pot is not None:
        pots = [pot for pot in pots if pot == filters.pot]
    size = max(1, min(limit, PAGE_SIZE_MAX))
    rows = await db.fetch(
        sql("list_entries"),
        person_id,
        pots,
        filters.kind,
        filters.effective_from,
        filters.effective_until,
        _decode_cursor(cursor),
        size + 1,
        viewer,
    )
    items = [_entry(row) for row in rows[:size]]
    more = len(rows) > size
    return EntryPage(items=items, next_cursor=_encode_cursor(items[-1].id) if more else None)


async def explain_entry(
    db: Connection,
    person_id: UUID,
    entry_id: int,
    scopes: Iterable[str],
    *,
    viewer: str | None = None,
) -> EntryExplanation:
    """The rule trace, the legal reference and the source declaration of one entry (a hold's
    id for its own client only, as :func:`list_entries`)."""
    row = await db.fetchrow(sql("get_entry_explanation"), entry_id, person_id, viewer)
    if row is None or row["pot"] not in visible_pots(scopes):
        raise EntryNotFound()
    declaration = None
    if row["declaration_kind"] is not None:
        declaration = DeclarationRef(
            kind=row["declaration_kind"],
            id=row["declaration_id"],
            year=row["declaration_year"],
            body=_object.decode(row["declaration_body"]),
            created_at=row["declaration_created_at"],
        )
    return EntryExplanation(
        entry=_entry(row),
        rule_id=row["rule_id"],
        parameter_effective_from=row["parameter_effective_from"],
        legal_reference=row["legal_reference"],
        trace=_object.decode(row["trace"]) if row["trace"] else None,
        declaration=declaration,
    )


def _entry(row: Any) -> Entry:
    return from_row(Entry, row)


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("e"):
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None
