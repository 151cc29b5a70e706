"""The aggregated account (scopes mask), entries pages, explanations, C2P uses, services."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import asyncpg
import msgspec
import pytest

from cpa.declarations import ExposureDeclaration, declare_exposures
from cpa.idempotency import IdempotencyConflict, claim, run_idempotent
from cpa.ledger import (
    C2pConversionRequest,
    EntryFilter,
    Hold,
    NewHold,
    Provenance,
    convert_c2p,
    create_hold,
    credit_year,
    explain_entry,
    get_account,
    list_entries,
    verify_ledger,
)
from cpa.ledger.errors import InvalidCursor
from cpa.linked_services import link_service, load_catalogue, unlink_service
from cpa.rules import ReservedPointsNotUsable
from tests.ledger.support import NOW, TODAY, declare_year, new_person

EVERYTHING = ("cpf:read", "cec:read", "c2p:read", "services:read")


async def career(db: asyncpg.Connection) -> UUID:
    person = await new_person(db)
    for year in range(2019, 2026):
        await declare_year(db, person.id, year)
        await credit_year(db, person.id, year, today=dt.date(year + 1, 4, 15))
    exposure = ExposureDeclaration(
        person_id=person.id, year=2024, contract_ref="C-1", contract_start=dt.date(2020, 1, 1),
        contract_end=dt.date(2030, 12, 31), factors={"night_work": 150, "noise_daily": 700},
    )  # fmt: skip
    await declare_exposures(db, [exposure], today=TODAY)
    await credit_year(db, person.id, 2024, today=TODAY)
    return person.id


async def test_scopes_are_data_masks(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    await load_catalogue(db)
    await link_service(db, person_id, "vae-france", now=NOW)
    full = await get_account(db, person_id, EVERYTHING, now=NOW)
    assert full.cpf is not None and full.c2p is not None and full.services is not None
    assert full.cpf.available_cents == 350_000
    assert (full.c2p.points_available, full.c2p.points_reserved_for_training) == (8, 8)
    assert [s.id for s in full.services] == ["vae-france"]
    assert full.last_credited_on == TODAY
    cpf_only = await get_account(db, person_id, ["cpf:read"], now=NOW)
    wire = msgspec.json.decode(msgspec.json.encode(cpf_only))
    assert set(wire) == {"person_id", "as_of", "last_credited_on", "cpf"}
    await unlink_service(db, person_id, "vae-france")


async def test_entries_page_filter_and_explain(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    seen: list[int] = []
    cursor = None
    while True:
        page = await list_entries(db, person_id, ["cpf:read"], cursor=cursor, limit=3)
        seen += [entry.id for entry in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)
    masked = await list_entries(db, person_id, ["cpf:read"], filters=EntryFilter(pot="c2p"))
    assert masked.items == []
    dated = EntryFilter(effective_from=dt.date(2024, 1, 1), effective_until=dt.date(2024, 12, 31))
    page = await list_entries(db, person_id, ["cpf:read"], filters=dated)
    assert [entry.credit_year for entry in page.items] == [2023]
    explanation = await explain_entry(db, person_id, seen[0], ["cpf:read"])
    assert explanation.legal_reference and explanation.rule_id == "cpf.eur.rate_base"
    assert explanation.declaration is not None and explanation.declaration.year == 2025
    assert explanation.trace is not None and explanation.trace["facts"]["year"] == 2025
    with pytest.raises(InvalidCursor):
        await list_entries(db, person_id, ["cpf:read"], cursor="nope!")


async def test_c2p_training_funds_an_earmarked_abondement(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    with pytest.raises(ReservedPointsNotUsable):
        await convert_c2p(db, person_id, C2pConversionRequest(use="part_time", points=8),
                          today=TODAY)  # fmt: skip
    request = C2pConversionRequest(use="training", points=8, training_reference="RNCP-42")
    result = await convert_c2p(db, person_id, request, today=TODAY)
    assert result.amount_cents == 8 * 50_000 and result.grant_id is not None
    expires_at = NOW + dt.timedelta(days=9)
    new = NewHold(amount_cents=8 * 50_000, training_reference="RNCP-42", expires_at=expires_at)
    hold = await create_hold(db, person_id, new, now=NOW)
    assert [a.pot for a in hold.allocations] == ["abondement"]
    account = await get_account(db, person_id, EVERYTHING, now=NOW)
    assert account.c2p is not None and account.c2p.points_available == 0
    assert (await verify_ledger(db)).ok


async def test_the_same_key_replays_and_another_body_conflicts(db: asyncpg.Connection) -> None:
    person_id = await career(db)
    new = NewHold(amount_cents=100, training_reference="T", expires_at=NOW + dt.timedelta(days=1))

    async def attempt(body: NewHold, key: str) -> Hold:
        provenance = Provenance(client_id="of-1", idempotency_key=key)
        done = await run_idempotent(
            db, claim("of-1", key, operation="create_hold", request=body, now=NOW), now=NOW,
            work=lambda: create_hold(db, person_id, body, now=NOW, provenance=provenance),
            result_type=Hold,
        )  # fmt: skip
        return done.result

    holds = [await attempt(new, f"k{i % 10}") for i in range(1_000)]
    assert len({h.id for h in holds}) == 10
    assert await db.fetchval("select count(*) from cpf_holds") == 10
    with pytest.raises(IdempotencyConflict):
        await attempt(msgspec.structs.replace(new, amount_cents=101), "k1")
    assert (await verify_ledger(db)).ok
