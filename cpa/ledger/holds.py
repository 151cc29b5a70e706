"""Holds: two-phase debits of CPF rights (reserve, then post or void; expiry releases).

A hold moves euros from the person's pots to the ``cpf_held`` pot, in the debit order of
``cpa.rules.debit`` (passed to SQL with its trace, which every allocation records); a post takes
them out of the account (the rest returns where it came from); a void or an expiry returns
them all. Every write to a person's balances first takes the
person's ledger lock (``journal.lock_person_ledger``), so two holds can never both take the last
euros, and balance rows are always locked in the same order (no deadlock).

Creating a hold is the hot path (issue 5: 1,000 holds/s, 300/s on one account): it is one
SQL function call that takes the lock, looks the idempotency key up, writes, journals and stores
the key with its response, so the lock is held for one statement and its commit, never across
round trips to Python. The common hold, which statutory rights alone cover, is
``create_hold_lean`` (issue 16: one statement around a conditional UPDATE of the person's
ledger row, the response built here); any other, or one that statement leaves, is
``cpf_hold_create``, which allocates in the debit order (sql/schema.sql). A hold keeps its
idempotency key and request digest in its row, and a repeat is answered from it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg
import msgspec
import structlog

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.errors import InvalidInput
from cpa.idempotency import Claim, Replayable, conflict
from cpa.ledger.allocation import consume
from cpa.ledger.entries import append_entries, lock_person_ledger
from cpa.ledger.errors import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientRights,
    InvalidAmount,
    InvalidCursor,
)
from cpa.ledger.models import (
    SYSTEM,
    Allocation,
    Hold,
    HoldStatus,
    NewEntry,
    NewHold,
    Provenance,
)
from cpa.rules.debit import debit_order

log = structlog.get_logger(__name__)

HOLD_AMOUNT_MAX_CENTS = 100_000_000  # 1,000,000 €: far above any CPF balance
HOLD_LIFETIME_MAX = dt.timedelta(days=366)
TRAINING_REF_LENGTH_MAX = 200
HOLDS_LISTED_MAX = 100
EXPIRY_BATCH_MAX = 1_000

_allocations = msgspec.json.Decoder(list[Allocation])
_hold_json = msgspec.json.Decoder(Hold)


async def create_hold(
    db: Connection,
    person_id: UUID,
    new: NewHold,
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
    journal: Sequence[str | None] | None = None,
    claim: Claim | None = None,
) -> Hold:
    """Reserve ``new.amount_cents`` of the person's CPF rights for a training until expiry
    (:func:`create_hold_once`, without saying whether the hold is a replay)."""
    created = await create_hold_once(
        db, person_id, new, now=now, provenance=provenance, journal=journal, claim=claim
    )
    return created.result


async def create_hold_once(
    db: Connection,
    person_id: UUID,
    new: NewHold,
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
    journal: Sequence[str | None] | None = None,
    claim: Claim | None = None,
) -> Replayable[Hold]:
    """Reserve ``new.amount_cents`` of the person's CPF rights for a training until expiry.

    One statement (``cpf_hold_create``), atomic even outside a transaction: the person's lock
    is held for that statement and its commit only. ``journal``: the access journal line
    (client id, kind, name, advisor id, purpose, action, route) written with the hold.
    ``claim``: the idempotency key; a repeat of the same request returns the hold it created
    (``replayed``) and writes nothing, another request under the same key is an
    ``IdempotencyConflict``. Lapsed holds are released first when (and only when) the rights
    would otherwise not suffice: the hot path stays one statement.
    """
    _check_new_hold(new, now)
    assert claim is None or claim.client_id == provenance.client_id, "a key is the client's"
    lean = await _create_lean(db, person_id, new, now, provenance, journal, claim)
    if lean is not None:
        return lean
    row = await _create(db, person_id, new, now, provenance, journal, claim)
    if row["outcome"] == "lapsed" and await release_lapsed_holds(db, person_id, now):
        row = await _create(db, person_id, new, now, provenance, journal, claim)
    outcome = row["outcome"]
    if outcome == "conflict":
        assert claim is not None
        raise conflict(claim.key)
    if outcome in ("insufficient", "lapsed"):
        available = row["available_cents"]
        raise InsufficientRights(
            f"{new.amount_cents} cents asked, {available} available", available_cents=available
        )
    hold = _hold_json.decode(row["hold"])
    if outcome == "created":
        log.debug("hold_created", hold_id=str(hold.id), amount_cents=new.amount_cents)
    return Replayable(hold, replayed=outcome == "replayed")


async def _create_lean(
    db: Connection,
    person_id: UUID,
    new: NewHold,
    now: dt.datetime,
    provenance: Provenance,
    journal: Sequence[str | None] | None,
    claim: Claim | None,
) -> Replayable[Hold] | None:
    """The common hold (``create_hold_lean``): statutory rights alone, the response built
    here; None when the debit order must decide (``cpf_hold_create``) and nothing was written:
    another pot, too little, a stop date, or a key already used (a repeat is answered there)."""
    order = debit_order(now.date())
    if not order.statutory_first or (journal is not None and journal[0] != provenance.client_id):
        return None
    hold = _lean_hold(person_id, new, now, provenance)
    try:
        with domain_errors():
            outcome = await db.fetchval(
                sql("create_hold_lean"),
                *_lean_arguments(hold, now, provenance, claim),
                order.trace.rule_id,
                order.trace.parameter_effective_from,
                order.trace.legal_reference,
                *(journal[1:] if journal is not None else [None] * 6),
            )
    except asyncpg.UniqueViolationError as error:
        if claim is None or error.constraint_name != _HOLD_KEY:
            raise
        return None  # a repeat took the key meanwhile: cpf_hold_create answers under the lock
    if outcome is None:
        return None
    log.debug("hold_created", hold_id=str(hold.id), amount_cents=new.amount_cents)
    return Replayable(hold, replayed=False)


_HOLD_KEY = "cpf_holds_idempotency_key"
"""The unique index that keeps a claimed key to one hold per client (sql/schema.sql)."""


def _lean_hold(person_id: UUID, new: NewHold, now: dt.datetime, provenance: Provenance) -> Hold:
    """The hold as the database will hold it (times in UTC, as it reads them back)."""
    return Hold(
        id=uuid4(),
        person_id=person_id,
        amount_cents=new.amount_cents,
        training_reference=new.training_reference,
        expires_at=new.expires_at.astimezone(dt.UTC),
        status="pending",
        posted_cents=None,
        created_at=now.astimezone(dt.UTC),
        closed_at=None,
        client_id=provenance.client_id,
        allocations=[Allocation(pot="cpf_statutory", grant_id=None, amount_cents=new.amount_cents)],
    )


def _lean_arguments(
    hold: Hold, now: dt.datetime, provenance: Provenance, claim: Claim | None
) -> tuple[Any, ...]:
    """``create_hold_lean``'s $1-$13: the hold, its entries' correlation id, and its key."""
    return (
        hold.person_id,
        hold.id,
        uuid4(),  # one per hold, shared by its two entries
        hold.amount_cents,
        hold.training_reference,
        hold.expires_at,
        now,
        now.date(),
        provenance.client_id,
        provenance.token_jti,
        claim.key if claim else provenance.idempotency_key,
        claim.request_sha256 if claim else None,
        claim.expires_at if claim else None,
    )


async def _create(
    db: Connection,
    person_id: UUID,
    new: NewHold,
    now: dt.datetime,
    provenance: Provenance,
    journal: Sequence[str | None] | None,
    claim: Claim | None,
) -> asyncpg.Record:
    on = now.date()
    order = debit_order(on)
    try:
        with domain_errors():
            row = await db.fetchrow(
                sql("create_hold_at_once"),
                person_id,
                uuid4(),
                new.amount_cents,
                new.training_reference,
                new.expires_at,
                now,
                on,
                provenance.client_id,
                provenance.token_jti,
                claim.key if claim else provenance.idempotency_key,
                claim.request_sha256 if claim else None,
                claim.expires_at if claim else None,
                order.sources,
                order.after_retirement,
                order.trace.rule_id,
                order.trace.parameter_effective_from,
                order.trace.legal_reference,
                *(journal if journal is not None else [None] * 7),
            )
    except asyncpg.UniqueViolationError as error:
        # The key was taken, after this statement looked it up, by a hold that did not wait
        # for this person's lock: another person's, so another request.
        if claim is None or error.constraint_name != _HOLD_KEY:
            raise
        raise conflict(claim.key) from None
    assert row is not None, "cpf_hold_create answers one row"
    return row


async def post_hold(
    db: Connection,
    person_id: UUID,
    hold_id: UUID,
    amount_cents: int,
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
) -> Hold:
    """Debit ``amount_cents`` (at most what is held) for good; the rest is released."""
    _check_amount(amount_cents)
    return await _close(db, person_id, hold_id, "posted", amount_cents, now, provenance)


async def void_hold(
    db: Connection,
    person_id: UUID,
    hold_id: UUID,
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
) -> Hold:
    """Release every euro of a pending hold."""
    return await _close(db, person_id, hold_id, "voided", None, now, provenance)


async def expire_holds(db: Connection, now: dt.datetime, limit: int = EXPIRY_BATCH_MAX) -> int:
    """Release pending holds past their expiry (the server's sweep); returns how many."""
    rows = await db.fetch(sql("list_expired_holds"), now, limit)
    expired = 0
    for row in rows:
        if await _expire_one(db, row["person_id"], row["id"], now):
            expired += 1
    return expired


async def get_hold(db: Connection, person_id: UUID, hold_id: UUID) -> Hold:
    row = await db.fetchrow(sql("get_hold"), hold_id, person_id)
    if row is None:
        raise HoldNotFound()
    return _hold(row)


async def list_holds(db: Connection, person_id: UUID, limit: int = HOLDS_LISTED_MAX) -> list[Hold]:
    rows = await db.fetch(sql("list_holds"), person_id, min(limit, HOLDS_LISTED_MAX))
    return [_hold(row) for row in rows]


class HoldPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Hold]
    next_cursor: str | None = None


async def list_client_holds(
    db: Connection,
    client_id: str,
    *,
    status: HoldStatus | None = None,
    created_from: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = HOLDS_LISTED_MAX,
) -> HoldPage:
    """One page of the holds ``client_id`` created, every person's, newest first: what a
    training body reconciles against its own records after a crash."""
    after = _decode_hold_cursor(cursor)
    size = max(1, min(limit, HOLDS_LISTED_MAX))
    rows = await db.fetch(
        sql("list_client_holds"),
        client_id,
        status,
        created_from,
        created_before,
        after[0] if after else None,
        after[1] if after else None,
        size + 1,
    )
    items = [_hold(row) for row in rows[:size]]
    last = items[-1] if len(rows) > size else None
    return HoldPage(items=items, next_cursor=_encode_hold_cursor(last) if last else None)


def _encode_hold_cursor(hold: Hold) -> str:
    """Opaque, as the entries' cursor: the last hold's creation time and id."""
    text = f"h{hold.created_at.isoformat()}|{hold.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_hold_cursor(cursor: str | None) -> tuple[dt.datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, hold_id = text.removeprefix("h").split("|")
        when = dt.datetime.fromisoformat(created_at)
        if not text.startswith("h") or when.tzinfo is None:
            raise ValueError(text)
        return when, UUID(hold_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None


def _atomic(db: Connection) -> AbstractAsyncContextManager[Any]:
    """A transaction of its own, or none inside the caller's (an HTTP write, an idempotent
    run): a savepoint there would cost two round trips while the person's lock is held, and
    a failure rolls the caller's transaction back anyway."""
    return nullcontext() if db.is_in_transaction() else db.transaction()


# -- creating ------------------------------------------------------------------------------


def _amount_error(amount_cents: int) -> list[dict[str, str]]:
    if amount_cents < 1:
        return [{"field": "$.amount_cents", "message": "too small: at least 1"}]
    if amount_cents > HOLD_AMOUNT_MAX_CENTS:
        return [
            {"field": "$.amount_cents", "message": f"too large: at most {HOLD_AMOUNT_MAX_CENTS}"}
        ]
    return []


def _check_amount(amount_cents: int) -> None:
    errors = _amount_error(amount_cents)
    if errors:
        raise InvalidAmount(f"{errors[0]['field']}: {errors[0]['message']}", errors=errors)


def _reference_error(reference: str) -> list[dict[str, str]]:
    if not reference.strip():
        return [{"field": "$.training_reference", "message": "required: not blank"}]
    if len(reference) > TRAINING_REF_LENGTH_MAX:
        message = f"too long: at most {TRAINING_REF_LENGTH_MAX} characters"
        return [{"field": "$.training_reference", "message": message}]
    return []


def _expiry_error(expires_at: dt.datetime, now: dt.datetime) -> list[dict[str, str]]:
    if expires_at.tzinfo is None:
        message = "needs a time zone (Z or ±hh:mm)"
    elif expires_at <= now:
        message = "must be in the future"
    elif expires_at > now + HOLD_LIFETIME_MAX:
        message = f"too far: at most {HOLD_LIFETIME_MAX.days} days ahead"
    else:
        return []
    return [{"field": "$.expires_at", "message": message}]


def _check_new_hold(new: NewHold, now: dt.datetime) -> None:
    """Every field at fault at once (a partner fixes its request in one go)."""
    amount = _amount_error(new.amount_cents)
    errors = [
        *amount,
        *_reference_error(new.training_reference),
        *_expiry_error(new.expires_at, now),
    ]
    if errors:
        refusal = InvalidAmount if errors == amount else InvalidInput
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise refusal(f"{errors[0]['field']}: {errors[0]['message']}{more}", errors=errors)


async def release_lapsed_holds(db: Connection, person_id: UUID, now: dt.datetime) -> int:
    """Release the person's holds past their expiry now, as the sweep would; how many."""
    rows = await db.fetch(sql("list_person_expired_holds"), person_id, now)
    for row in rows:
        await _expire_one(db, person_id, row["id"], now)
    return len(rows)


# -- closing -------------------------------------------------------------------------------

Final = Literal["posted", "voided", "expired"]
_KIND = {"posted": "hold_void", "voided": "hold_void", "expired": "hold_expire"}


async def _close(
    db: Connection,
    person_id: UUID,
    hold_id: UUID,
    status: Final,
    posted_cents: int | None,
    now: dt.datetime,
    provenance: Provenance,
) -> Hold:
    async with _atomic(db):
        await lock_person_ledger(db, person_id)
        hold = await _locked_hold(db, person_id, hold_id)
        _check_closable(hold, posted_cents, now, provenance)
        await _write_close(db, hold, status, posted_cents or 0, now, provenance)
    log.info(f"hold_{status}", hold_id=str(hold_id), posted_cents=posted_cents)
    return msgspec.structs.replace(hold, status=status, posted_cents=posted_cents, closed_at=now)


async def _expire_one(db: Connection, person_id: UUID, hold_id: UUID, now: dt.datetime) -> bool:
    async with db.transaction():
        await lock_person_ledger(db, person_id)
        hold = await _locked_hold(db, person_id, hold_id)
        if hold.status != "pending" or hold.expires_at > now:
            return False  # another transaction closed it meanwhile
        await _write_close(db, hold, "expired", 0, now, SYSTEM)
    log.info("hold_expired", hold_id=str(hold_id))
    return True


async def _locked_hold(db: Connection, person_id: UUID, hold_id: UUID) -> Hold:
    if await db.fetchval(sql("lock_hold"), hold_id, person_id) is None:
        raise HoldNotFound()
    return await get_hold(db, person_id, hold_id)


def _check_closable(
    hold: Hold, posted_cents: int | None, now: dt.datetime, provenance: Provenance
) -> None:
    if provenance.client_id not in (None, SYSTEM.client_id, hold.client_id):
        raise HoldNotFound()  # a training body sees only its own holds
    if hold.status != "pending":
        raise HoldNotPending(f"the hold is {hold.status}", hold_status=hold.status)
    if hold.expires_at <= now:
        raise HoldExpired(expires_at=hold.expires_at.isoformat())
    if posted_cents is not None and posted_cents > hold.amount_cents:
        raise AmountBeyondHeld(
            f"{posted_cents} cents asked, {hold.amount_cents} held",
            held_cents=hold.amount_cents,
        )


async def _write_close(
    db: Connection,
    hold: Hold,
    status: Final,
    posted_cents: int,
    now: dt.datetime,
    provenance: Provenance,
) -> None:
    closed = await db.fetchval(sql("close_hold"), hold.id, status, posted_cents or None, now)
    assert closed is not None, "a locked pending hold closes"
    entries = _close_entries(hold, status, posted_cents, now.date())
    await append_entries(db, entries, provenance)


def _close_entries(hold: Hold, status: Final, posted_cents: int, on: dt.date) -> list[NewEntry]:
    correlation = uuid4()
    common: dict[str, Any] = {
        "person_id": hold.person_id,
        "effective_on": on,
        "correlation_id": correlation,
        "hold_id": hold.id,
    }
    _, released = consume(hold.allocations, posted_cents)
    entries: list[NewEntry] = []
    if posted_cents:
        entries.append(NewEntry(pot="cpf_held", kind="hold_post", amount=-posted_cents, **common))
    kind = _KIND[status]
    for allocation, back in zip(hold.allocations, released, strict=True):
        if back:
            entries.append(
                NewEntry(pot="cpf_held", kind=kind, amount=-back, **common)  # type: ignore[arg-type]
            )
            entries.append(
                NewEntry(
                    pot=allocation.pot,
                    grant_id=allocation.grant_id,
                    kind=kind,  # type: ignore[arg-type]
                    amount=back,
                    **common,
                )
            )
    return entries


def _hold(row: asyncpg.Record) -> Hold:
    return from_row(Hold, row, allocations=_allocations.decode(row["allocations"]))
