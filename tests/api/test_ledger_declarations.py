"""Declaration batches over HTTP (operator clients): NDJSON or a JSON array, answered line by
line, all-or-nothing per line, bounded, idempotent, journaled for each person touched."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec

from cpa.declarations import BATCH_LINES_MAX
from tests.api.conftest import World
from tests.auth import support

PROBLEM = "urn:cpa:problem:"
ACTIVITIES = "/v1/declarations/activities"
THIS_YEAR = dt.date.today().year


def activity(person_id: Any, year: int = 2018, **extra: Any) -> dict[str, Any]:
    line = {
        "person_id": str(person_id),
        "year": year,
        "activities": [{"kind": "employee", "worked_centihours": 160_700}],
    }
    return {**line, **extra}


def ndjson(*lines: dict[str, Any] | bytes) -> bytes:
    return b"\n".join(x if isinstance(x, bytes) else msgspec.json.encode(x) for x in lines)


def operator(world: World, **headers: str) -> dict[str, str]:
    return {**world.bearer(world.machine["operator"]), **headers}


async def post_ndjson(api: httpx.AsyncClient, world: World, body: bytes) -> list[dict[str, Any]]:
    """An NDJSON batch of activities, by the operator: the answer's lines."""
    response = await api.post(
        ACTIVITIES,
        content=body,
        headers=operator(world, **{"Content-Type": "application/x-ndjson"}),
    )
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["lines"]
    return lines


async def declared(db: asyncpg.Connection, world: World) -> list[tuple[str, int]]:
    rows = await db.fetch(
        "select p, year from (select person_id as p, year from activity_declarations"
        " where person_id = any($1::uuid[]) and year < 2019) d order by year",
        [world.alice.id, world.bob.id],
    )
    return [(str(row["p"]), row["year"]) for row in rows]


async def test_a_json_array_is_accepted_and_journaled_for_each_person(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    lines = [activity(world.alice.id, 2017), activity(world.bob.id, 2018)]
    response = await api.post(ACTIVITIES, json=lines, headers=operator(world))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 0)
    assert [line["revision"] for line in body["lines"]] == [1, 1]
    journal = await wdb.fetch(
        "select person_id, action, route from access_journal where client_id = $1",
        world.clients["operator"]["client_id"],
    )
    assert sorted((r["person_id"], r["action"], r["route"]) for r in journal) == sorted(
        (who, "change", ACTIVITIES) for who in (world.alice.id, world.bob.id)
    )


async def test_one_bad_line_among_good_ones_is_refused_alone(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    body = ndjson(
        activity(world.alice.id, 2016),
        activity(world.alice.id, THIS_YEAR + 1),  # a year in the future
        activity(world.alice.id, 2017, surprise=True),  # an unknown field
        b"{not json",
        activity("00000000-0000-0000-0000-000000000001", 2017),  # nobody
        activity(world.bob.id, 2016),
    )
    lines = await post_ndjson(api, world, body)
    assert [line["status"] for line in lines] == [
        "accepted", "rejected", "rejected", "rejected", "rejected", "accepted",
    ]  # fmt: skip
    assert lines[1]["problem"]["type"] == PROBLEM + "declaration-in-future"
    assert lines[2]["problem"]["type"] == PROBLEM + "invalid-input"
    assert lines[4]["problem"]["type"] == PROBLEM + "person-not-found"
    assert await declared(wdb, world) == [(str(world.alice.id), 2016), (str(world.bob.id), 2016)]


async def test_exposures_engagements_and_their_validation(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    exposure = {
        "person_id": str(world.bob.id),
        "year": 2023,
        "contract_ref": "N-1",
        "contract_start": "2023-01-01",
        "contract_end": "2023-12-31",
        "factors": {"night_work": 130},
    }
    exposed = await api.post("/v1/declarations/exposures", json=[exposure], headers=operator(world))
    assert exposed.json()["accepted"] == 1, exposed.text
    engagement = {
        "person_id": str(world.bob.id),
        "year": 2023,
        "organisation": "Secours populaire",
        "kind": "associative_volunteering",
        "hours": 220,
        "hours_in_one_organisation": 220,
        "role": "board_member",
    }
    engaged = await api.post(
        "/v1/declarations/engagements", json=[engagement], headers=operator(world)
    )
    engagement_id = engaged.json()["lines"][0]["id"]
    decisions = [
        {"engagement_id": engagement_id, "decision": "validated"},
        {"engagement_id": engagement_id, "decision": "refused"},
    ]
    decided = await api.post(
        "/v1/declarations/engagements/decisions", json=decisions, headers=operator(world)
    )
    lines = decided.json()["lines"]
    assert [line["status"] for line in lines] == ["accepted", "rejected"]
    assert lines[1]["problem"]["type"] == PROBLEM + "engagement-already-decided"
    routes = await wdb.fetch(
        "select route from access_journal where person_id = $1 order by id", world.bob.id
    )
    assert [r["route"] for r in routes] == [
        "/v1/declarations/exposures",
        "/v1/declarations/engagements",
        "/v1/declarations/engagements/decisions",
    ]


async def test_batches_that_cannot_be_read_are_refused_whole(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    too_many = [activity(world.alice.id, 2016)] * (BATCH_LINES_MAX + 1)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": too_many}, 413, "batch-too-large"),
        ({"json": {"not": "an array"}}, 422, "invalid-input"),
        ({"content": b"[", "headers": {"Content-Type": "application/json"}}, 422, "invalid-input"),
        (
            {"content": b"x", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported-media-type",
        ),
        ({"content": b" " * (3 * 1024 * 1024)}, 413, "body-too-large"),
    ]
    for request, status, slug in cases:
        headers = operator(world, **request.pop("headers", {"Content-Type": "application/json"}))
        refused = await api.post(ACTIVITIES, headers=headers, **request)
        assert (refused.status_code, refused.json()["type"]) == (status, PROBLEM + slug)
    assert await declared(wdb, world) == []
    portal = await api.post(
        ACTIVITIES,
        json=[activity(world.alice.id)],
        headers=world.bearer(world.alice.tokens["portal"]),
    )
    assert portal.status_code == 403


async def test_a_batch_replayed_with_its_key_writes_nothing_new(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    headers = operator(world, **{"Idempotency-Key": "dsn-2026-11"})
    lines = [activity(world.alice.id, 2016)]
    first = await api.post(ACTIVITIES, json=lines, headers=headers)
    again = await api.post(ACTIVITIES, json=lines, headers=headers)
    assert again.json() == first.json() and await declared(wdb, world) == [
        (str(world.alice.id), 2016)
    ]
    other = await api.post(ACTIVITIES, json=[activity(world.bob.id, 2016)], headers=headers)
    assert other.status_code == 409 and other.json()["type"] == PROBLEM + "idempotency-conflict"


async def test_operators_name_persons_by_nir_which_is_never_stored(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    def by_nir(nir: str, **extra: Any) -> dict[str, Any]:
        line = activity(world.alice.id, 2017)
        del line["person_id"]
        return {"nir": nir, **line, **extra}

    wrong_key = world.alice.nir[:-2] + f"{(int(world.alice.nir[-2:]) + 1) % 97:02d}"
    body = ndjson(
        by_nir(world.alice.nir),
        by_nir(wrong_key),  # not a NIR: its key does not match
        by_nir(support.nir("1991299123456")),  # a NIR nobody is registered with
        by_nir(world.bob.nir, person_id=str(world.bob.id)),  # two ways to name a person
        {k: v for k, v in activity(world.bob.id, 2017).items() if k != "person_id"},  # none
    )
    lines = await post_ndjson(api, world, body)
    assert [line["status"] for line in lines] == ["accepted"] + ["rejected"] * 4
    assert [line["problem"]["type"] for line in lines[1:]] == [
        PROBLEM + slug
        for slug in ("invalid-nir", "person-not-found", "invalid-input", "invalid-input")
    ]
    assert await declared(wdb, world) == [(str(world.alice.id), 2017)]
    stored = await wdb.fetchval(
        "select body::text from activity_declarations where id = $1", UUID(lines[0]["id"])
    )
    assert str(world.alice.id) in stored
    assert world.alice.nir not in stored and world.alice.nir[:13] not in stored
    journal = await wdb.fetch(
        "select person_id from access_journal where client_id = $1 and route = $2",
        world.clients["operator"]["client_id"],
        ACTIVITIES,
    )
    assert [row["person_id"] for row in journal] == [world.alice.id]


async def test_an_impossible_career_is_refused_with_its_field(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    """A contract starting before the person was born (alice: 1985) is refused, the field
    named, by the rule the simulation applies (cpa.rules.ages)."""
    exposure = {
        "person_id": str(world.alice.id),
        "year": 2016,
        "contract_ref": "N-0",
        "contract_start": "1980-01-01",
        "contract_end": "2016-12-31",
        "factors": {"night_work": 130},
    }
    answer = await api.post("/v1/declarations/exposures", json=[exposure], headers=operator(world))
    (line,) = answer.json()["lines"]
    assert line["status"] == "rejected"
    assert line["problem"]["type"] == PROBLEM + "impossible-career"
    assert line["problem"]["status"] == 422
    assert line["problem"]["errors"] == [
        {"field": "$.contract_start", "message": line["problem"]["errors"][0]["message"]}
    ]
    assert "before the person's birth" in line["problem"]["errors"][0]["message"]
