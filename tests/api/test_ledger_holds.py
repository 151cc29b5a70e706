"""Holds over HTTP: reserve, post, void, read; idempotent replays; every bad input refused with
a problem and nothing written; a training body reaches only its own holds on its person."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import httpx
import pytest

from cpa.ledger import NewHold, Provenance, create_hold
from tests.api.conftest import World

PROBLEM = "urn:cpa:problem:"
HOLDS = "/v1/me/cpf/holds"


def in_days(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def hold_body(amount_cents: int = 120_000, **extra: Any) -> dict[str, Any]:
    return {
        "amount_cents": amount_cents,
        "training_reference": "RNCP-35001",
        "expires_at": in_days(30),
        **extra,
    }


async def footprint(db: asyncpg.Connection) -> tuple[int, ...]:
    """What a refused request must leave unchanged."""
    row = await db.fetchrow(
        "select (select count(*) from ledger_entries) as entries,"
        " (select count(*) from cpf_holds) as holds,"
        " (select count(*) from cpf_holds where status <> 'pending') as closed,"
        " (select count(*) from access_journal) as journal,"
        " (select count(*) from idempotency_keys) as keys"
    )
    assert row is not None
    return tuple(row)


async def available(api: httpx.AsyncClient, world: World) -> int:
    account = await api.get("/v1/me/account", headers=world.bearer(world.alice.tokens["portal"]))
    return int(account.json()["cpf"]["available_cents"])


async def test_reserve_then_post_part_releases_the_rest(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    training = world.bearer(world.alice.tokens["training"])
    created = await api.post(HOLDS, json=hold_body(), headers=training)
    assert created.status_code == 201, created.text
    hold = created.json()
    assert hold["status"] == "pending" and hold["training_reference"] == "RNCP-35001"
    assert hold["allocations"] == [
        {"pot": "cpf_statutory", "grant_id": None, "amount_cents": 120_000}
    ]
    assert await available(api, world) == 350_000 - 120_000
    read = await api.get(f"{HOLDS}/{hold['id']}", headers=training)
    assert read.status_code == 200 and read.json() == hold
    posted = await api.post(
        f"{HOLDS}/{hold['id']}/post", json={"amount_cents": 100_000}, headers=training
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "posted" and posted.json()["posted_cents"] == 100_000
    assert await available(api, world) == 350_000 - 100_000
    client = world.clients["training_body"]["client_id"]
    actions = await wdb.fetch(
        "select action, route from access_journal where client_id = $1 order by id", client
    )
    assert [tuple(r) for r in actions] == [
        ("change", "/v1/me/cpf/holds"),
        ("read", "/v1/me/cpf/holds/{id}"),
        ("change", "/v1/me/cpf/holds/{id}/post"),
    ]
    provenance = await wdb.fetch(
        "select distinct client_id, token_jti is not null as jti from ledger_entries"
        " where hold_id = $1",
        hold["id"],
    )
    assert [tuple(r) for r in provenance] == [(client, True)]


async def test_void_releases_everything_then_nothing_changes_again(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    training = world.bearer(world.alice.tokens["training"])
    hold = (await api.post(HOLDS, json=hold_body(), headers=training)).json()
    voided = await api.post(f"{HOLDS}/{hold['id']}/void", headers=training)
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert await available(api, world) == 350_000
    before = await footprint(wdb)
    for path, body in (("post", {"amount_cents": 1}), ("void", None)):
        again = await api.post(f"{HOLDS}/{hold['id']}/{path}", json=body, headers=training)
        assert again.status_code == 409, again.text
        assert again.json()["type"] == PROBLEM + "hold-not-pending"
    assert await footprint(wdb) == before


async def test_idempotent_replay_over_http(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    """The same key and body answer the same hold and write nothing; another body is a 409."""
    training = {**world.bearer(world.alice.tokens["training"]), "Idempotency-Key": "order-42"}
    body = hold_body()
    first = await api.post(HOLDS, json=body, headers=training)
    assert first.status_code == 201, first.text
    before = await footprint(wdb)
    again = await api.post(HOLDS, json=body, headers=training)
    assert (again.status_code, again.json()) == (201, first.json())
    assert await footprint(wdb) == before
    other = await api.post(HOLDS, json={**body, "amount_cents": 1}, headers=training)
    assert other.status_code == 409 and other.json()["type"] == PROBLEM + "idempotency-conflict"
    assert await footprint(wdb) == before
    assert await available(api, world) == 350_000 - 120_000
    keyed = await wdb.fetchval(
        "select count(*) from ledger_entries where idempotency_key = 'order-42'"
    )
    assert keyed == 2  # the hold's pair of entries, once
    # Another person's request with the same key is another request: a conflict, not a replay.
    bob = {**world.bearer(world.bob.tokens["training"]), "Idempotency-Key": "order-42"}
    assert (await api.post(HOLDS, json=body, headers=bob)).status_code == 409


BAD_HOLDS = [
    pytest.param(hold_body(0), 422, "invalid-amount", id="zero amount"),
    pytest.param(hold_body(-100), 422, "invalid-amount", id="negative amount"),
    pytest.param(hold_body(350_001), 422, "insufficient-rights", id="beyond the rights"),
    pytest.param(hold_body(surprise=1), 422, "invalid-input", id="unknown field"),
    pytest.param(hold_body(expires_at=in_days(-1)), 422, "invalid-input", id="expired already"),
    pytest.param(hold_body(expires_at=in_days(400)), 422, "invalid-input", id="too far"),
    pytest.param(hold_body(training_reference=" "), 422, "invalid-input", id="no reference"),
    pytest.param({"amount_cents": 100}, 422, "invalid-input", id="missing fields"),
    pytest.param(hold_body("100"), 422, "invalid-input", id="amount as a string"),
]


@pytest.mark.parametrize(("body", "status", "slug"), BAD_HOLDS)
async def test_a_bad_hold_is_refused_and_writes_nothing(
    world: World,
    api: httpx.AsyncClient,
    wdb: asyncpg.Connection,
    body: dict[str, Any],
    status: int,
    slug: str,
) -> None:
    before = await footprint(wdb)
    headers = {**world.bearer(world.alice.tokens["training"]), "Idempotency-Key": "k-bad"}
    refused = await api.post(HOLDS, json=body, headers=headers)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == PROBLEM + slug
    assert await footprint(wdb) == before


async def test_a_bad_post_is_refused_and_writes_nothing(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    training = world.bearer(world.alice.tokens["training"])
    hold = (await api.post(HOLDS, json=hold_body(), headers=training)).json()
    # A hold of this training body that lapsed yesterday (created through the service).
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    lapsed = await create_hold(
        wdb,
        world.alice.id,
        NewHold(amount_cents=1_000, training_reference="T", expires_at=past + dt.timedelta(days=1)),
        now=past,
        provenance=Provenance(client_id=world.clients["training_body"]["client_id"]),
    )
    before = await footprint(wdb)
    cases = [
        (hold["id"], {"amount_cents": 120_001}, 422, "amount-beyond-held"),
        (hold["id"], {"amount_cents": 0}, 422, "invalid-amount"),
        (hold["id"], {"amount_cents": -5}, 422, "invalid-amount"),
        (hold["id"], {"amount_cents": 5, "extra": True}, 422, "invalid-input"),
        (str(lapsed.id), {"amount_cents": 1_000}, 409, "hold-expired"),
        ("00000000-0000-0000-0000-000000000000", {"amount_cents": 1}, 404, "hold-not-found"),
    ]
    for hold_id, body, status, slug in cases:
        refused = await api.post(f"{HOLDS}/{hold_id}/post", json=body, headers=training)
        assert (refused.status_code, refused.json()["type"]) == (status, PROBLEM + slug), body
    assert await footprint(wdb) == before


async def test_holds_are_for_training_bodies_and_their_own_holds_on_their_person(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    hold = (
        await api.post(
            HOLDS, json=hold_body(), headers=world.bearer(world.alice.tokens["training"])
        )
    ).json()
    portal = await api.post(
        HOLDS, json=hold_body(), headers=world.bearer(world.alice.tokens["portal"])
    )
    assert portal.status_code == 403  # the portal lacks cpf:hold and is no training body
    before = await footprint(wdb)
    for token in (world.alice.tokens["other_training"], world.bob.tokens["training"]):
        seen = await api.get(f"{HOLDS}/{hold['id']}", headers=world.bearer(token))
        assert seen.status_code == 404 and seen.json()["type"] == PROBLEM + "hold-not-found"
        voided = await api.post(f"{HOLDS}/{hold['id']}/void", headers=world.bearer(token))
        assert voided.status_code == 404
    assert await footprint(wdb) == before
