"""Linked services and C2P conversions over HTTP, with real tokens."""

from __future__ import annotations

import asyncpg
import httpx

from tests.api.conftest import World

PROBLEM = "urn:cpa:problem:"
LINKS = "/v1/me/services/links"
CONVERSIONS = "/v1/me/c2p/conversions"


async def test_catalogue_link_list_and_unlink(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    portal = world.bearer(world.alice.tokens["portal"])
    catalogue = await api.get("/v1/services", headers=world.bearer(world.machine["operator"]))
    assert catalogue.status_code == 200
    assert "vae-france" in {s["id"] for s in catalogue.json()["services"]}
    linked = await api.post(LINKS, json={"service_id": "vae-france"}, headers=portal)
    assert linked.status_code == 201, linked.text
    assert linked.json()["id"] == "vae-france" and linked.json()["category"] == "vae"
    again = await api.post(LINKS, json={"service_id": "vae-france"}, headers=portal)
    assert again.status_code == 409 and again.json()["type"] == PROBLEM + "service-already-linked"
    unknown = await api.post(LINKS, json={"service_id": "nope"}, headers=portal)
    assert unknown.status_code == 404 and unknown.json()["type"] == PROBLEM + "service-not-found"
    listed = (await api.get(LINKS, headers=portal)).json()["links"]
    assert [link["id"] for link in listed] == ["vae-france"]
    account = (await api.get("/v1/me/account", headers=portal)).json()
    assert [s["id"] for s in account["services"]] == ["vae-france"]
    # Bob sees none of Alice's links; a training body may not remove them.
    assert (await api.get(LINKS, headers=world.bearer(world.bob.tokens["portal"]))).json() == {
        "links": []
    }
    training = await api.delete(
        f"{LINKS}/vae-france", headers=world.bearer(world.alice.tokens["training"])
    )
    assert training.status_code == 403
    removed = await api.delete(f"{LINKS}/vae-france", headers=portal)
    assert removed.status_code == 200 and removed.json()["service_id"] == "vae-france"
    gone = await api.delete(f"{LINKS}/vae-france", headers=portal)
    assert gone.status_code == 404
    journal = await wdb.fetch(
        "select action, route from access_journal where person_id = $1 order by id",
        world.alice.id,
    )
    assert [tuple(r) for r in journal] == [
        ("change", LINKS),
        ("read", LINKS),
        ("read", "/v1/me/account"),
        ("change", LINKS + "/{id}"),
    ]


async def test_c2p_training_conversion_funds_an_earmarked_abondement(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    portal = {**world.bearer(world.alice.tokens["portal"]), "Idempotency-Key": "c2p-1"}
    body = {"use": "training", "points": 8, "training_reference": "RNCP-42"}
    converted = await api.post(CONVERSIONS, json=body, headers=portal)
    assert converted.status_code == 201, converted.text
    result = converted.json()
    assert result["amount_cents"] == 8 * 50_000 and result["grant_id"]
    replayed = await api.post(CONVERSIONS, json=body, headers=portal)
    assert replayed.json() == result
    account = (await api.get("/v1/me/account", headers=portal)).json()
    assert account["c2p"]["points_available"] == 0
    assert account["cpf"]["abondements_cents"] == 8 * 50_000
    assert await wdb.fetchval("select count(*) from c2p_conversions") == 1


async def test_bad_conversions_are_refused_and_write_nothing(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    portal = world.bearer(world.alice.tokens["portal"])
    cases = [
        ({"use": "training", "points": 0, "training_reference": "T"}, 422, "invalid-input"),
        ({"use": "training", "points": -8, "training_reference": "T"}, 422, "invalid-input"),
        ({"use": "training", "points": 9, "training_reference": "T"}, 422, "insufficient-points"),
        ({"use": "training", "points": 8}, 422, "invalid-input"),
        ({"use": "part_time", "points": 8}, 422, "reserved-points-not-usable"),
        ({"use": "holidays", "points": 8}, 422, "invalid-input"),
        ({"use": "training", "points": "8", "training_reference": "T"}, 422, "invalid-input"),
        ({"use": "training", "points": 8, "training_reference": "T", "x": 1}, 422, "invalid-input"),
    ]
    for body, status, slug in cases:
        refused = await api.post(CONVERSIONS, json=body, headers=portal)
        assert (refused.status_code, refused.json()["type"]) == (status, PROBLEM + slug), body
    assert await wdb.fetchval("select count(*) from c2p_conversions") == 0
    assert await wdb.fetchval("select count(*) from access_journal") == 0
    reader = await api.post(
        CONVERSIONS,
        json={"use": "training", "points": 8, "training_reference": "T"},
        headers=world.bearer(world.alice.tokens["cpf"]),
    )
    assert reader.status_code == 403
