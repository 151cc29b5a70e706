"""GET /v1/me/account, entries and explanations (and the advisor's views), over HTTP with real
tokens: scopes mask the data, a token only ever reaches its own person, every read is
journaled."""

from __future__ import annotations

import asyncpg
import httpx

from tests.api.conftest import World

PROBLEM = "urn:cpa:problem:"


async def journal(db: asyncpg.Connection, world: World, person: str) -> list[tuple[str, ...]]:
    citizen = getattr(world, person)
    rows = await db.fetch(
        "select client_id, action, route, coalesce(purpose, '') as purpose from access_journal "
        "where person_id = $1 order by id",
        citizen.id,
    )
    return [tuple(row) for row in rows]


async def test_the_whole_account_in_one_call_is_journaled(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    response = await api.get("/v1/me/account", headers=world.bearer(world.alice.tokens["portal"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"as_of", "sub", "last_credited_on", "cpf", "cec", "c2p", "services"}
    assert body["cpf"]["available_cents"] == 350_000 and body["cpf"]["held_cents"] == 0
    assert body["c2p"] == {
        "points_available": 8,
        "points_reserved_for_training": 8,
        "debt_points": 0,
    }
    assert body["services"] == [] and "person_id" not in body
    me = await api.get("/v1/me", headers=world.bearer(world.alice.tokens["portal"]))
    assert body["sub"] == me.json()["sub"]
    portal = world.clients["portal"]["client_id"]
    assert await journal(wdb, world, "alice") == [(portal, "read", "/v1/me/account", "")]


async def test_scopes_are_data_masks(world: World, api: httpx.AsyncClient) -> None:
    """A cpf:read token sees no C2P, CEC nor services, in the account or in the entries."""
    cpf = world.bearer(world.alice.tokens["cpf"])
    account = (await api.get("/v1/me/account", headers=cpf)).json()
    assert set(account) == {"as_of", "sub", "last_credited_on", "cpf"}
    entries = (await api.get("/v1/me/entries", params={"limit": 200}, headers=cpf)).json()
    assert {e["pot"] for e in entries["items"]} == {"cpf_statutory"}
    c2p_only = await api.get("/v1/me/entries", params={"pot": "c2p"}, headers=cpf)
    assert c2p_only.status_code == 403
    assert c2p_only.json()["type"] == PROBLEM + "insufficient-scope"
    full = world.bearer(world.alice.tokens["portal"])
    c2p_entries = (await api.get("/v1/me/entries", params={"pot": "c2p"}, headers=full)).json()
    c2p_entry = c2p_entries["items"][0]["id"]
    hidden = await api.get(f"/v1/me/entries/{c2p_entry}/explanation", headers=cpf)
    assert hidden.status_code == 404 and hidden.json()["type"] == PROBLEM + "entry-not-found"
    # A token with no reading scope at all reads nothing.
    blind = await api.get("/v1/me/account", headers=world.bearer(world.bob.tokens["convert"]))
    assert blind.status_code == 403 and blind.json()["type"] == PROBLEM + "insufficient-scope"


async def test_entries_pages_filters_and_explanation(world: World, api: httpx.AsyncClient) -> None:
    cpf = world.bearer(world.alice.tokens["cpf"])
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 3, "pot": "cpf_statutory", "kind": "accrual"}
    while True:
        page = (await api.get("/v1/me/entries", params=params, headers=cpf)).json()
        seen += [entry["id"] for entry in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen, reverse=True)
    dated = await api.get(
        "/v1/me/entries",
        params={"effective_from": "2024-01-01", "effective_until": "2024-12-31"},
        headers=cpf,
    )
    assert [entry["credit_year"] for entry in dated.json()["items"]] == [2023]
    explained = await api.get(f"/v1/me/entries/{seen[0]}/explanation", headers=cpf)
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["rule_id"] == "cpf.eur.rate_base" and body["legal_reference"]
    assert body["declaration"]["kind"] == "activity" and body["declaration"]["year"] == 2025
    assert "person_id" not in body["declaration"]["body"]
    not_an_id = await api.get("/v1/me/entries/abc/explanation", headers=cpf)
    assert not_an_id.headers["content-type"] == "application/problem+json"
    assert not_an_id.status_code in (400, 404, 422)
    for bad in ({"cursor": "nope!"}, {"pot": "gold"}, {"limit": 0}, {"effective_from": "x"}):
        refused = await api.get("/v1/me/entries", params=bad, headers=cpf)
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"


async def test_a_token_never_reaches_another_person(world: World, api: httpx.AsyncClient) -> None:
    alice = world.bearer(world.alice.tokens["portal"])
    bob = world.bearer(world.bob.tokens["portal"])
    alice_entry = (await api.get("/v1/me/entries", headers=alice)).json()["items"][0]["id"]
    foreign = await api.get(f"/v1/me/entries/{alice_entry}/explanation", headers=bob)
    assert foreign.status_code == 404
    # Naming a person anywhere in the request changes nothing: /v1/me is the token's person.
    smuggled = await api.get(
        "/v1/me/account", params={"person_id": str(world.alice.id)}, headers=bob
    )
    assert smuggled.json()["c2p"]["points_available"] == 0  # Bob's, not Alice's 8 points
    assert smuggled.json()["sub"] != (await api.get("/v1/me/account", headers=alice)).json()["sub"]
    machine = await api.get("/v1/me/account", headers=world.bearer(world.machine["operator"]))
    assert machine.status_code == 403
    assert (await api.get("/v1/me/account")).status_code == 401


async def test_advisor_views_need_a_reference_and_are_journaled_with_the_purpose(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    advisor = world.bearer(world.machine["advisor"])
    lookup = await api.post(
        "/v1/advisor/lookups",
        json={"nir": world.alice.nir, "advisor_id": "A-7", "purpose": "training_funding"},
        headers=advisor,
    )
    assert lookup.status_code == 201, lookup.text
    base = f"/v1/advisor/persons/{lookup.json()['person_ref']}"
    account = (await api.get(f"{base}/account", headers=advisor)).json()
    assert account["cpf"]["available_cents"] == 350_000 and account["c2p"]["points_available"] == 8
    assert "sub" not in account
    entries = (await api.get(f"{base}/entries", params={"pot": "c2p"}, headers=advisor)).json()
    entry = entries["items"][0]
    explained = await api.get(f"{base}/entries/{entry['id']}/explanation", headers=advisor)
    assert explained.status_code == 200 and explained.json()["entry"]["pot"] == "c2p"
    unknown = await api.get("/v1/advisor/persons/not-a-ref/account", headers=advisor)
    assert unknown.status_code == 404
    portal = await api.get(f"{base}/account", headers=world.bearer(world.alice.tokens["portal"]))
    assert portal.status_code == 403
    tool = world.clients["advisor_tool"]["client_id"]
    assert [(c, a, r, p) for c, a, r, p in await journal(wdb, world, "alice")] == [
        (tool, "lookup", "/v1/advisor/lookups", "training_funding"),
        (tool, "read", "/v1/advisor/persons/{ref}/account", "training_funding"),
        (tool, "read", "/v1/advisor/persons/{ref}/entries", "training_funding"),
        (tool, "read", "/v1/advisor/persons/{ref}/entries/{id}/explanation", "training_funding"),
    ]


async def test_every_read_by_a_client_is_journaled(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    bob = world.bearer(world.bob.tokens["portal"])
    entry = (await api.get("/v1/me/entries", headers=bob)).json()["items"][0]["id"]
    await api.get(f"/v1/me/entries/{entry}/explanation", headers=bob)
    await api.get("/v1/me/account", headers=bob)
    portal = world.clients["portal"]["client_id"]
    assert await journal(wdb, world, "bob") == [
        (portal, "read", "/v1/me/entries", ""),
        (portal, "read", "/v1/me/entries/{id}/explanation", ""),
        (portal, "read", "/v1/me/account", ""),
    ]
