"""Money-safe POSTs (issue 15 point 3): a money-moving POST without ``Idempotency-Key`` is a 428
problem and writes nothing; a replay says it is one; a creation names its resource in
``Location``; a training body lists the holds it created (by status, by date, paginated), and
sees another body's hold on its person as an amount without its counterparty."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.conftest import World
from tests.api.test_ledger_holds import HOLDS, PROBLEM, footprint, hold_body
from tests.auth import support

CLIENT_HOLDS = "/v1/holds"


@pytest.fixture
async def bare(world: World, wdb: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """A client that adds no key of its own (the ``api`` fixture adds one to every POST)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url=support.ISSUER
    ) as http:
        yield http


async def test_a_money_moving_post_without_a_key_is_a_428_problem(
    world: World, bare: httpx.AsyncClient, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    training = world.bearer(world.alice.tokens["training"])
    hold = (await api.post(HOLDS, json=hold_body(), headers=training)).json()
    convert = {"use": "retirement", "points": 10}
    posts: list[tuple[str, Any, dict[str, str]]] = [
        (HOLDS, hold_body(), training),
        (f"{HOLDS}/{hold['id']}/post", {"amount_cents": 1}, training),
        (f"{HOLDS}/{hold['id']}/void", None, training),
        ("/v1/me/c2p/conversions", convert, world.bearer(world.bob.tokens["convert"])),
    ]
    before = await footprint(wdb)
    for path, body, headers in posts:
        refused = await bare.post(path, json=body, headers=headers)
        assert refused.status_code == 428, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"] == PROBLEM + "idempotency-key-required", path
        assert "Idempotency-Key" in problem["detail"]
    assert await footprint(wdb) == before


async def test_a_replay_says_so_and_a_creation_names_its_location(
    world: World, bare: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    training = {**world.bearer(world.alice.tokens["training"]), "Idempotency-Key": "rc-1"}
    body = hold_body()
    first = await bare.post(HOLDS, json=body, headers=training)
    assert first.status_code == 201, first.text
    location = first.headers["location"]
    assert location == f"{HOLDS}/{first.json()['id']}"
    assert "idempotent-replayed" not in first.headers
    again = await bare.post(HOLDS, json=body, headers=training)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == location
    followed = await bare.get(location, headers=training)
    assert followed.status_code == 200 and followed.json() == first.json()
    post = {**training, "Idempotency-Key": "rc-2"}
    posted = await bare.post(f"{location}/post", json={"amount_cents": 5}, headers=post)
    assert posted.status_code == 200 and "idempotent-replayed" not in posted.headers
    replayed = await bare.post(f"{location}/post", json={"amount_cents": 5}, headers=post)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == posted.json()
    portal = {**world.bearer(world.alice.tokens["portal"]), "Idempotency-Key": "rc-3"}
    use = {"use": "training", "points": 8, "training_reference": "RNCP-42"}
    converted = await bare.post("/v1/me/c2p/conversions", json=use, headers=portal)
    assert converted.status_code == 201, converted.text
    recorded = await bare.get(converted.headers["location"], headers=portal)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["id"] == converted.json()["id"]
    assert recorded.json()["grant_id"] == converted.json()["grant_id"]


async def _holds(api: httpx.AsyncClient, token: str, **query: Any) -> dict[str, Any]:
    listed = await api.get(CLIENT_HOLDS, params=query, headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
    return dict(listed.json())


async def test_a_training_body_lists_the_holds_it_created_to_reconcile(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    """Every person's holds of this body, newest first, by status and creation time, one page
    after the other; another body's holds are not there; each person's journal has the read."""
    mine = [world.alice.tokens["training"], world.bob.tokens["training"]]
    created = []
    for index, token in enumerate([*mine, *mine]):
        hold = await api.post(HOLDS, json=hold_body(1_000 + index), headers=world.bearer(token))
        assert hold.status_code == 201, hold.text
        created.append(hold.json())
    theirs = world.bearer(world.alice.tokens["other_training"])
    assert (await api.post(HOLDS, json=hold_body(7), headers=theirs)).status_code == 201
    voided = created[0]["id"]
    training = world.bearer(world.alice.tokens["training"])
    assert (await api.post(f"{HOLDS}/{voided}/void", headers=training)).status_code == 200
    body = world.machine["training_body"]
    since = min(h["created_at"] for h in created)
    seen: list[dict[str, Any]] = []
    page = await _holds(api, body, created_from=since, limit=3)
    seen += page["holds"]
    assert len(page["holds"]) == 3 and page["next_cursor"]
    page = await _holds(api, body, created_from=since, limit=3, cursor=page["next_cursor"])
    seen += page["holds"]
    assert page["next_cursor"] is None
    assert [h["id"] for h in seen] == [h["id"] for h in reversed(created)]
    assert len({h["sub"] for h in seen}) == 2  # one subject per person, as its tokens say
    pending = await _holds(api, body, status="pending", created_from=since)
    assert voided not in [h["id"] for h in pending["holds"]] and len(pending["holds"]) == 3
    assert [h["id"] for h in (await _holds(api, body, status="voided"))["holds"]] == [voided]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert (await _holds(api, body, created_from=later.isoformat()))["holds"] == []
    assert (await _holds(api, body, created_before=since))["holds"] == []
    other = await _holds(api, world.machine["other_training_body"], created_from=since)
    assert [h["amount_cents"] for h in other["holds"]] == [7]
    bad = await api.get(CLIENT_HOLDS, params={"cursor": "nope"}, headers=world.bearer(body))
    assert bad.status_code == 422 and bad.json()["type"] == PROBLEM + "invalid-cursor"
    for instant in ("2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00"):
        bad = await api.get(
            CLIENT_HOLDS, params={"created_from": instant}, headers=world.bearer(body)
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "created_from"
    portal = await api.get(CLIENT_HOLDS, headers=world.bearer(world.machine["operator"]))
    assert portal.status_code == 403
    journaled = await wdb.fetchval(
        "select count(distinct person_id) from access_journal where route = $1", CLIENT_HOLDS
    )
    assert journaled == 2


async def test_another_bodys_hold_is_an_amount_without_its_counterparty(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    """Alice's entries, read by a second training body holding her consent: the first body's
    hold is there as amounts, without its id (its own hold keeps its id)."""
    first = world.bearer(world.alice.tokens["training"])
    second = world.bearer(world.alice.tokens["other_training"])
    theirs = (await api.post(HOLDS, json=hold_body(2_000), headers=first)).json()
    ours = (await api.post(HOLDS, json=hold_body(3_000), headers=second)).json()
    entries = await api.get("/v1/me/entries", params={"kind": "hold"}, headers=second)
    assert entries.status_code == 200, entries.text
    items = entries.json()["items"]
    by_amount = {abs(e["amount"]): e["hold_id"] for e in items if e["pot"] == "cpf_held"}
    assert by_amount[3_000] == ours["id"]
    assert by_amount[2_000] is None
    assert theirs["id"] not in entries.text and "RNCP-35001" not in entries.text
    for item in items:
        explained = await api.get(f"/v1/me/entries/{item['id']}/explanation", headers=second)
        assert explained.status_code == 200
        assert theirs["id"] not in explained.text and "RNCP-35001" not in explained.text
    own = await api.get("/v1/me/entries", params={"kind": "hold"}, headers=first)
    assert theirs["id"] in own.text
