"""Holds: debit order, post/void/expiry, refusals that write nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from cpa.errors import CpaError
from cpa.ledger import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotPending,
    InsufficientRights,
    InvalidAmount,
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    credit_year,
    expire_holds,
    get_account,
    get_hold,
    post_hold,
    verify_ledger,
    void_hold,
)
from tests.ledger.support import NOW, TODAY, declare_year, new_person

LATER = NOW + dt.timedelta(days=30)


def hold(
    amount_cents: int, training_reference: str = "RNCP-1", expires_at: dt.datetime = LATER
) -> NewHold:
    return NewHold(
        amount_cents=amount_cents, training_reference=training_reference, expires_at=expires_at
    )


async def funded(db: asyncpg.Connection) -> UUID:
    """A person with 500 € statutory, 240 € CEC-like dotation layout: statutory + dotation."""
    person = await new_person(db)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    return person.id


async def count_entries(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("select count(*) from ledger_entries"))


async def test_earmarked_grants_are_drawn_first_then_statutory(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    await add_grant(db, person_id, NewGrant(pot="abondement", amount_cents=10_000,
                                            financer="OPCO"), today=TODAY)  # fmt: skip
    await add_grant(db, person_id, NewGrant(pot="dotation", amount_cents=20_000,
                                            financer="ACME"), today=TODAY)  # fmt: skip
    created = await create_hold(db, person_id, hold(60_000), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [
        ("dotation", 20_000),
        ("cpf_statutory", 40_000),
    ]
    account = await get_account(db, person_id, ["cpf:read"], now=NOW)
    assert account.cpf is not None
    assert (account.cpf.held_cents, account.cpf.available_cents) == (60_000, 20_000)
    assert (await verify_ledger(db)).ok


async def test_a_partial_post_releases_the_rest_where_it_came_from(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    created = await create_hold(db, person_id, hold(30_000), now=NOW)
    posted = await post_hold(db, person_id, created.id, 10_000, now=NOW)
    assert (posted.status, posted.posted_cents) == ("posted", 10_000)
    account = await get_account(db, person_id, ["cpf:read"], now=NOW)
    assert account.cpf is not None
    assert (account.cpf.held_cents, account.cpf.statutory_cents) == (0, 40_000)
    with pytest.raises(HoldNotPending):
        await void_hold(db, person_id, created.id, now=NOW)
    assert (await verify_ledger(db)).ok


async def test_bad_requests_are_refused_and_write_nothing(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    voided = await create_hold(db, person_id, hold(10_000), now=NOW)
    await void_hold(db, person_id, voided.id, now=NOW)
    pending = await create_hold(db, person_id, hold(10_000), now=NOW)
    short = await create_hold(db, person_id, hold(10_000, expires_at=NOW + dt.timedelta(hours=1)),
                              now=NOW)  # fmt: skip
    before = await count_entries(db)
    later = NOW + dt.timedelta(hours=2)
    attempts: list[tuple[type[CpaError], object]] = [
        (InvalidAmount, create_hold(db, person_id, hold(0), now=NOW)),
        (InvalidAmount, create_hold(db, person_id, hold(-5), now=NOW)),
        (InsufficientRights, create_hold(db, person_id, hold(50_001), now=NOW)),
        (AmountBeyondHeld, post_hold(db, person_id, pending.id, 10_001, now=NOW)),
        (InvalidAmount, post_hold(db, person_id, pending.id, 0, now=NOW)),
        (HoldNotPending, post_hold(db, person_id, voided.id, 1, now=NOW)),
        (HoldExpired, post_hold(db, person_id, short.id, 1, now=later)),
        (CpaError, create_hold(db, person_id, hold(1, expires_at=NOW), now=NOW)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            await attempt  # type: ignore[misc]
    assert await count_entries(db) == before
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(
            b'{"amount_cents": 1, "training_reference": "x", "expires_at": "2030-01-01T00:00:00Z",'
            b' "person_id": "x"}',
            type=NewHold,
        )


async def test_expiry_releases_the_rights(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    short = await create_hold(db, person_id, hold(50_000, expires_at=NOW + dt.timedelta(hours=1)),
                              now=NOW)  # fmt: skip
    later = NOW + dt.timedelta(hours=2)
    account = await get_account(db, person_id, ["cpf:read"], now=later)
    assert account.cpf is not None
    assert account.cpf.available_cents == 50_000  # lazily released on read
    # a new hold releases the lapsed one under the lock
    again = await create_hold(db, person_id, hold(50_000, expires_at=later + dt.timedelta(days=1)),
                              now=later)  # fmt: skip
    assert (await get_hold(db, person_id, short.id)).status == "expired"
    assert await expire_holds(db, later + dt.timedelta(days=2)) == 1
    assert (await get_hold(db, person_id, again.id)).status == "expired"
    assert (await verify_ledger(db)).ok


async def test_entries_cannot_be_updated_or_deleted(db: asyncpg.Connection) -> None:
    await funded(db)
    for statement in ("update ledger_entries set amount = 1", "delete from ledger_entries"):
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            async with db.transaction():
                await db.execute(statement)


def _take(amount: int, ordered: list[tuple[str, UUID | None, int]]) -> list[Any] | None:
    """``amount`` taken from ``ordered`` sources in turn; None when they do not suffice."""
    taken = []
    for pot, grant_id, balance in ordered:
        if amount == 0:
            break
        part = min(amount, balance)
        taken.append((pot, grant_id, part))
        amount -= part
    return taken if amount == 0 else None


@pytest.mark.parametrize("retired", [False, True])
async def test_the_debit_order(db: asyncpg.Connection, retired: bool) -> None:
    """Earmarked grants first (soonest deadline first; a grant tied to a training funds only
    it), then statutory rights, then CEC, then other abondements; after retirement only CEC
    (the person has none here: every hold is refused)."""
    status = {"full_rate_retirement_on": TODAY} if retired else {}
    person = await new_person(db, **status)
    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    terms = {
        "A": NewGrant(pot="dotation", amount_cents=20_000, financer="A",
                      use_by=TODAY.replace(day=30)),
        "B": NewGrant(pot="abondement", amount_cents=10_000, financer="B", earmarked=True,
                      use_by=TODAY.replace(day=10)),
        "C": NewGrant(pot="abondement", amount_cents=5_000, financer="C", earmarked=True,
                      training_reference="RNCP-2"),
        "D": NewGrant(pot="abondement", amount_cents=7_000, financer="D"),
        "E": NewGrant(pot="dotation", amount_cents=3_000, financer="E"),
    }  # fmt: skip
    grants = {
        name: await add_grant(db, person.id, grant, today=TODAY) for name, grant in terms.items()
    }
    statutory = await db.fetchval(
        "select balance from ledger_balances where person_id = $1 and pot = 'cpf_statutory'",
        person.id,
    )

    def source(name: str) -> tuple[str, UUID | None, int]:
        return (terms[name].pot, grants[name].id, terms[name].amount_cents)

    # Without a deadline, earmarked grants follow their ids' order (any fixed order would do).
    c_e = sorted(["C", "E"], key=lambda name: str(grants[name].id))
    order = {
        "RNCP-1": [source("B"), source("A"), source("E"),
                   ("cpf_statutory", None, statutory), source("D")],
        "RNCP-2": [source("B"), source("A"), *map(source, c_e),
                   ("cpf_statutory", None, statutory), source("D")],
    }  # fmt: skip
    for amount in (1, 5_000, 10_000, 15_000, 33_001, 80_000, 92_000, 95_000, 95_001):
        for ref in ("RNCP-1", "RNCP-2"):
            expected = None if retired else _take(amount, order[ref])
            savepoint = db.transaction()
            await savepoint.start()
            try:
                created = await create_hold(
                    db, person.id, hold(amount, training_reference=ref), now=NOW
                )
                got = [(a.pot, a.grant_id, a.amount_cents) for a in created.allocations]
            except InsufficientRights:
                got = None
            finally:
                await savepoint.rollback()
            assert got == expected, (amount, ref)
