"""The lean hold (issue 16): a hold that statutory rights alone cover is one conditional UPDATE
of the person's ledger row (``create_hold_lean``); any other goes through the debit order
(``cpf_hold_create``), and both keep the row's columns equal to the balances they mirror."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from cpa.idempotency import KEY_LIFETIME, IdempotencyConflict, claim, run_idempotent
from cpa.ledger import (
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    create_hold_once,
    get_hold,
    post_hold,
    verify_ledger,
    void_hold,
)
from cpa.ledger.models import Hold, Provenance
from tests.ledger.support import NOW, TODAY
from tests.ledger.test_holds import funded

LATER = NOW + dt.timedelta(days=30)


def hold(amount_cents: int) -> NewHold:
    return NewHold(amount_cents=amount_cents, training_reference="RNCP-1", expires_at=LATER)


async def without(db: asyncpg.Connection, function: str) -> None:
    """Take ``function`` out of reach for the rest of the test's transaction (rolled back)."""
    await db.execute(f"alter function {function} rename to {function}_out_of_reach")


async def ledger_row(db: asyncpg.Connection, person_id: object) -> tuple[int, int]:
    row = await db.fetchrow(
        "select statutory_cents, held_cents from ledger_locks where person_id = $1", person_id
    )
    assert row is not None
    return row["statutory_cents"], row["held_cents"]


async def balance(db: asyncpg.Connection, person_id: object, pot: str) -> int:
    value = await db.fetchval(
        "select balance from ledger_balances where person_id = $1 and pot = $2", person_id, pot
    )
    return int(value or 0)


async def test_a_hold_statutory_rights_cover_takes_the_lean_path(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    await without(db, "cpf_hold_create")
    statutory = await balance(db, person_id, "cpf_statutory")
    created = await create_hold(db, person_id, hold(12_345), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [("cpf_statutory", 12_345)]
    assert await get_hold(db, person_id, created.id) == created  # as the database reads it
    assert await db.fetchval("select count(*) from cpf_hold_allocations") == 0  # implied
    assert await ledger_row(db, person_id) == (statutory - 12_345, 12_345)
    assert await balance(db, person_id, "cpf_statutory") == statutory - 12_345
    assert (await verify_ledger(db)).ok


async def test_an_earmarked_grant_sends_the_hold_to_the_debit_order(
    db: asyncpg.Connection,
) -> None:
    person_id = await funded(db)
    grant = NewGrant(pot="dotation", amount_cents=10_000, financer="ACME")
    await add_grant(db, person_id, grant, today=TODAY)
    statutory = await balance(db, person_id, "cpf_statutory")
    savepoint = db.transaction()  # the debit order out of reach here only
    await savepoint.start()
    await without(db, "cpf_hold_create")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await create_hold(db, person_id, hold(30_000), now=NOW)
    await savepoint.rollback()
    created = await create_hold(db, person_id, hold(30_000), now=NOW)
    assert [(a.pot, a.amount_cents) for a in created.allocations] == [
        ("dotation", 10_000),
        ("cpf_statutory", 20_000),
    ]
    assert await ledger_row(db, person_id) == (statutory - 20_000, 30_000)
    assert (await verify_ledger(db)).ok


async def test_an_emptied_earmarked_grant_leaves_the_lean_path_open(
    db: asyncpg.Connection,
) -> None:
    person_id = await funded(db)
    await add_grant(
        db, person_id, NewGrant(pot="dotation", amount_cents=10_000, financer="ACME"), today=TODAY
    )
    first = await create_hold(db, person_id, hold(10_000), now=NOW)  # the dotation, all of it
    assert [(a.pot, a.amount_cents) for a in first.allocations] == [("dotation", 10_000)]
    await without(db, "cpf_hold_create")
    second = await create_hold(db, person_id, hold(5_000), now=NOW)
    assert [(a.pot, a.amount_cents) for a in second.allocations] == [("cpf_statutory", 5_000)]
    assert (await verify_ledger(db)).ok


@pytest.mark.parametrize("stop", ["death_on", "full_rate_retirement_on"])
async def test_a_stop_date_come_sends_the_hold_to_the_debit_order(
    db: asyncpg.Connection, stop: str
) -> None:
    person_id = await funded(db)
    await db.execute(f"update persons set {stop} = $2 where id = $1", person_id, TODAY)
    assert (
        await db.fetchval("select stops_on from ledger_locks where person_id = $1", person_id)
        == TODAY
    )  # kept by the statement trigger on persons
    await without(db, "cpf_hold_create")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await create_hold(db, person_id, hold(1_000), now=NOW)


async def test_verify_finds_a_stop_date_that_drifted(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    await db.execute("update ledger_locks set stops_on = $2 where person_id = $1", person_id, TODAY)
    report = await verify_ledger(db)
    assert report.stale_summaries == [person_id] and not report.ok


async def test_verify_finds_a_ledger_row_that_disagrees_with_its_balances(
    db: asyncpg.Connection,
) -> None:
    person_id = await funded(db)
    await create_hold(db, person_id, hold(300), now=NOW)
    await db.execute(
        "update ledger_locks set held_cents = held_cents + 1 where person_id = $1", person_id
    )
    report = await verify_ledger(db)
    assert [(m.person_id, m.pot, m.balance, m.entries_sum) for m in report.mismatches] == [
        (person_id, "cpf_held (ledger row)", 301, 300)
    ]


async def test_a_lean_hold_refuses_a_ledger_row_ahead_of_its_balances(
    db: asyncpg.Connection,
) -> None:
    """The row said more than the balance: the hold is undone, not written."""
    person_id = await funded(db)
    await db.execute(
        "update ledger_locks set statutory_cents = statutory_cents + 1 where person_id = $1",
        person_id,
    )
    with pytest.raises(asyncpg.RaiseError, match="disagrees with its balances"):
        await create_hold(db, person_id, hold(300), now=NOW)


def keyed(person_id: object, body: NewHold, key: str, now: dt.datetime) -> dict[str, Any]:
    """What the hold route passes for a request under ``key`` (its provenance and claim)."""
    return {
        "provenance": Provenance(client_id="tb", token_jti="j", idempotency_key=key),
        "claim": claim("tb", key, operation=f"createHold {person_id}", request=body, now=now),
    }


async def test_a_keyed_hold_keeps_its_key_and_a_repeat_is_answered_from_it(
    db: asyncpg.Connection,
) -> None:
    """No idempotency_keys row per hold: the hold row holds the key and the request's digest,
    and the same request again gets the hold as created, even once it is posted."""
    person_id = await funded(db)
    body = hold(700)
    first = await create_hold_once(db, person_id, body, now=NOW, **keyed(person_id, body, "K", NOW))
    assert not first.replayed
    assert await db.fetchval("select count(*) from idempotency_keys") == 0
    stored = await db.fetchrow(
        "select idempotency_key, request_sha256 is not null as claimed from cpf_holds"
        " where id = $1",
        first.result.id,
    )
    assert tuple(stored) == ("K", True)
    await post_hold(db, person_id, first.result.id, 500, now=NOW)
    later = NOW + dt.timedelta(hours=1)
    again = await create_hold_once(
        db, person_id, body, now=later, **keyed(person_id, body, "K", NOW)
    )
    assert again == (first.result, True)
    assert await db.fetchval("select count(*) from cpf_holds") == 1
    with pytest.raises(IdempotencyConflict):
        await create_hold(
            db, person_id, hold(701), now=later, **keyed(person_id, hold(701), "K", NOW)
        )
    assert (await verify_ledger(db)).ok


async def test_a_key_past_its_lifetime_is_free_again(db: asyncpg.Connection) -> None:
    person_id = await funded(db)
    body = hold(700)
    first = await create_hold(db, person_id, body, now=NOW, **keyed(person_id, body, "K", NOW))
    later = NOW + KEY_LIFETIME + dt.timedelta(seconds=1)
    body_later = NewHold(
        amount_cents=700, training_reference="RNCP-1", expires_at=LATER + KEY_LIFETIME
    )
    second = await create_hold(
        db, person_id, body_later, now=later, **keyed(person_id, body_later, "K", later)
    )
    assert second.id != first.id
    assert await db.fetchval("select count(*) from cpf_holds") == 2
    assert (await verify_ledger(db)).ok


async def test_another_write_under_a_holds_key_is_a_conflict(db: asyncpg.Connection) -> None:
    """Keys are per client, whatever the write: one a hold keeps is taken for the others."""
    person_id = await funded(db)
    body = hold(700)
    created = await create_hold(db, person_id, body, now=NOW, **keyed(person_id, body, "K", NOW))
    other = claim("tb", "K", operation=f"voidHold {created.id}", request=None, now=NOW)
    with pytest.raises(IdempotencyConflict):
        await run_idempotent(
            db, other, now=NOW, work=lambda: void_hold(db, person_id, created.id, now=NOW),
            result_type=Hold,
        )  # fmt: skip
    assert (await db.fetchval("select status from cpf_holds")) == "pending"
