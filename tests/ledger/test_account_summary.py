"""The account summary (sql/schema.sql): every write that changes what the account shows
rebuilds it in the same statement, and ``verify_ledger`` finds a summary that drifted."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from cpa.ledger import (
    C2pConversionRequest,
    NewGrant,
    add_grant,
    convert_c2p,
    credit_year,
    get_account,
    verify_ledger,
)
from cpa.linked_services import (
    LinkedService,
    link_service,
    list_services,
    load_catalogue,
    register_service,
    unlink_service,
)
from tests.ledger.support import NOW, TODAY, declare_year, new_person
from tests.ledger.test_account import EVERYTHING, career


async def fresh(db: asyncpg.Connection) -> None:
    report = await verify_ledger(db)
    assert report.stale_summaries == [], report.stale_summaries


async def test_each_write_keeps_the_summary_fresh(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    await fresh(db)  # a new person has a summary at once

    await declare_year(db, person.id, 2024)
    await credit_year(db, person.id, 2024, today=TODAY)
    await fresh(db)
    assert (await get_account(db, person.id, EVERYTHING, now=NOW)).last_credited_on == TODAY

    grant = NewGrant(
        pot="abondement", amount_cents=30_000, financer="region", earmarked=True,
        training_reference="T-1", use_by=dt.date(2027, 1, 1),
    )  # fmt: skip
    await add_grant(db, person.id, grant, today=TODAY)
    await fresh(db)

    await load_catalogue(db)
    await link_service(db, person.id, "vae-france", now=NOW)
    await fresh(db)
    catalogue_entry = next(s for s in await list_services(db) if s.id == "vae-france")
    renamed = LinkedService(
        id=catalogue_entry.id, name="VAE (renamed)", category=catalogue_entry.category,
        url=catalogue_entry.url, provider_client_id=catalogue_entry.provider_client_id,
    )  # fmt: skip
    await register_service(db, renamed)
    await fresh(db)
    account = await get_account(db, person.id, EVERYTHING, now=NOW)
    assert account.services is not None and account.services[0].name == "VAE (renamed)"
    await unlink_service(db, person.id, "vae-france")
    await fresh(db)

    await db.execute(
        "update persons set full_rate_retirement_on = $2 where id = $1", person.id, TODAY
    )
    await fresh(db)
    account = await get_account(db, person.id, EVERYTHING, now=NOW)
    assert account.cpf is not None and account.cpf.available_cents == 0  # retired: CEC only


async def test_a_c2p_conversion_keeps_it_fresh(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    use = C2pConversionRequest(use="training", points=4, training_reference="T-2")
    await convert_c2p(db, person_id, use, today=TODAY)
    await fresh(db)
    account = await get_account(db, person_id, EVERYTHING, now=NOW)
    assert account.c2p is not None and account.c2p.points_reserved_for_training == 4


async def test_verify_finds_a_summary_that_drifted(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    await db.execute(
        "update ledger_locks set summary = json_build_object('drifted', true) where person_id = $1",
        person.id,
    )
    report = await verify_ledger(db)
    assert report.stale_summaries == [person.id] and not report.ok


async def test_persons_are_never_deleted(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    with pytest.raises(asyncpg.RestrictViolationError):
        async with db.transaction():
            await db.execute("delete from persons where id = $1", person.id)
    with pytest.raises(asyncpg.RestrictViolationError):
        async with db.transaction():
            await db.execute("truncate persons cascade")


async def test_concurrent_changes_of_one_account_both_reach_its_summary(fresh_dsn: str) -> None:
    """Two transactions change the same account at once: the one that rebuilds the summary
    second must see the first's change (it rebuilds after taking the summary row's lock)."""
    first, second = await asyncpg.connect(fresh_dsn), await asyncpg.connect(fresh_dsn)
    try:
        person = await new_person(first)
        await load_catalogue(first)
        link = "insert into service_links (person_id, service_id) values ($1, $2)"
        one = first.transaction()
        await one.start()
        await first.execute(link, person.id, "vae-france")  # holds the summary row
        other = second.transaction()
        await other.start()
        waiting = asyncio.ensure_future(second.execute(link, person.id, "cep-apec"))
        await asyncio.sleep(0.3)  # the second rebuild now waits for the first's lock
        assert not waiting.done()
        await one.commit()
        await waiting
        await other.commit()
        report = await verify_ledger(first)
        assert report.stale_summaries == []
        account = await get_account(first, person.id, EVERYTHING, now=NOW)
        assert account.services is not None
        assert sorted(s.id for s in account.services) == ["cep-apec", "vae-france"]
    finally:
        await first.close()
        await second.close()
