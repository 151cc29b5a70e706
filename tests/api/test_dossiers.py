"""Dossiers over HTTP: a request followed from the citizen's portal, the training body and the
financer to the payment, with its ledger moves, history, explanation, events and journal; each
bad input refused with a problem and nothing written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from cpa.ledger import verify_ledger
from cpa.trainings import NewSession, NewTrainingAction, create_action, create_session
from tests.api.conftest import World, _code_flow, _machine_token

PROBLEM = "urn:cpa:problem:"
MINE = "/v1/me/dossiers"
BODY = "/v1/dossiers"
FINANCER = "/v1/financer/dossiers"
PRICE = 150_000
COPAYMENT_2026 = 10_320  # cpf.pfo.amount from 2026-01-01


@dataclass
class Trainings:
    citizen: dict[str, str]
    body: dict[str, str]
    other_body: dict[str, str]
    financer: dict[str, str]
    advisor: dict[str, str]
    action_id: UUID
    session_id: UUID
    other_action_id: UUID
    starts_on: dt.date


@pytest.fixture(scope="session")
async def trainings(world: World) -> Trainings:
    """Alice's portal token for the dossiers, the bodies' and the financer's own tokens, and
    one body's action with a session three months ahead (committed, like the world)."""
    (citizen,) = await _code_flow(
        world, "portal", world.alice.nir, "trainings:read dossiers:read dossiers:write"
    )
    body_id = world.clients["training_body"]["client_id"]
    other_id = world.clients["other_training_body"]["client_id"]
    now = dt.datetime.now(dt.UTC)
    starts_on = now.date() + dt.timedelta(days=90)
    db = world.connection
    new = NewTrainingAction(
        title="Développeur web", certification_code="RNCP37805", duration_hours=400,
        modality="mixed", location="Lyon",
    )  # fmt: skip
    action = await create_action(db, body_id, new, now=now)
    session = await create_session(
        db, body_id, action.id,
        NewSession(starts_on=starts_on, ends_on=starts_on + dt.timedelta(days=60),
                   price_cents=PRICE, seats=12),
        now=now,
    )  # fmt: skip
    other = await create_action(db, other_id, new, now=now)
    cheaper = NewSession(starts_on=starts_on, ends_on=starts_on, price_cents=PRICE // 2, seats=3)
    await create_session(db, other_id, other.id, cheaper, now=now)
    return Trainings(
        citizen=world.bearer(citizen),
        body=world.bearer(await _machine_token(world, "training_body")),
        other_body=world.bearer(await _machine_token(world, "other_training_body")),
        financer=world.bearer(world.machine["operator"]),
        advisor=world.bearer(world.machine["advisor"]),
        action_id=action.id,
        session_id=session.id,
        other_action_id=other.id,
        starts_on=starts_on,
    )


async def footprint(db: asyncpg.Connection) -> tuple[int, ...]:
    """What a refused request must leave unchanged."""
    row = await db.fetchrow(
        "select (select count(*) from dossiers) as dossiers,"
        " (select count(*) from dossier_states) as states,"
        " (select count(*) from dossier_amounts) as amounts,"
        " (select count(*) from events) as events,"
        " (select count(*) from ledger_entries) as entries,"
        " (select count(*) from cpf_holds) as holds,"
        " (select count(*) from training_sessions) as sessions,"
        " (select count(*) from access_journal where action = 'change') as changes"
    )
    assert row is not None
    return tuple(row)


async def request(api: httpx.AsyncClient, t: Trainings) -> dict[str, Any]:
    created = await api.post(MINE, json={"session_id": str(t.session_id)}, headers=t.citizen)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def step(
    api: httpx.AsyncClient, url: str, action: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    answer = await api.post(f"{url}/actions/{action}", json=body or None, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_request_to_payment(
    world: World, trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    """The whole lifecycle: held at acceptance (price − co-payment), posted at validation."""
    t = trainings
    dossier = await request(api, t)
    assert dossier["state"] == "notProcessed" and dossier["allowed_actions"] == ["cancel"]
    mine, theirs = f"{MINE}/{dossier['id']}", f"{BODY}/{dossier['id']}"
    validated = await step(api, theirs, "validate", t.body)
    assert validated["state"] == "validated"
    assert validated["allowed_actions"] == ["cancel"]  # the body's, from validated
    quote = (await api.get(f"{mine}/quote", headers=t.citizen)).json()
    assert quote["copayment_cents"] == COPAYMENT_2026
    assert quote["rights_used_cents"] == PRICE - COPAYMENT_2026
    accepted = await step(api, mine, "accept", t.citizen)
    assert accepted["state"] == "accepted" and accepted["held_cents"] == PRICE - COPAYMENT_2026
    assert [a["leg"] for a in accepted["amounts"]] == ["rights_held", "copayment"]
    assert accepted["amounts"][1]["rule_id"] == "cpf.pfo.amount"
    assert (await step(api, theirs, "declare_entry", t.body))["state"] == "inTraining"
    declared = await step(api, theirs, "declare_exit", t.body, completion_basis_points=10_000)
    assert [h["state"] for h in declared["history"]][-2:] == ["terminated", "serviceDoneDeclared"]
    done = await step(api, f"{FINANCER}/{dossier['id']}", "validate_service_done", t.financer)
    assert done["state"] == "serviceDoneValidated" and done["allowed_actions"] == []
    legs = {a["leg"]: a for a in done["amounts"]}
    assert legs["rights_debited"]["amount_cents"] == PRICE - COPAYMENT_2026
    assert legs["rights_debited"]["rule_id"] == "training.cancel.completed"
    assert legs["rights_debited"]["policy_version"]
    hold = await wdb.fetchrow(
        "select status, posted_cents, training_reference from cpf_holds where id = $1",
        UUID(legs["rights_debited"]["hold_id"]),
    )
    assert hold is not None and tuple(hold) == (
        "posted",
        PRICE - COPAYMENT_2026,
        f"dossier:{dossier['id']}",
    )
    events = await wdb.fetch(
        "select type, data from events where subject_id = $1 order by subject_seq",
        UUID(dossier["id"]),
    )
    assert [e["type"] for e in events] == [
        "dossier.not_processed", "dossier.validated", "dossier.accepted",
        "dossier.rights_held", "dossier.in_training", "dossier.terminated",
        "dossier.service_done_declared", "dossier.service_done_validated",
        "dossier.rights_debited",
    ]  # fmt: skip
    assert all(str(world.alice.id) not in e["data"] for e in events)
    assert (await verify_ledger(wdb)).ok


async def test_citizen_cancels_within_withdrawal_gets_everything_back(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    t = trainings
    dossier = await request(api, t)
    mine = f"{MINE}/{dossier['id']}"
    await step(api, f"{BODY}/{dossier['id']}", "validate", t.body)
    await step(api, mine, "accept", t.citizen)
    quote = (await api.get(f"{mine}/quote", headers=t.citizen)).json()
    assert quote["cancellation_case"] == "withdrawal" and quote["cancellation_cost_cents"] == 0
    cancelled = await step(api, mine, "cancel", t.citizen)
    assert cancelled["state"] == "canceledByAttendee"
    legs = {a["leg"]: a["amount_cents"] for a in cancelled["amounts"]}
    assert legs["rights_released"] == PRICE - COPAYMENT_2026
    assert legs["copayment_refunded"] == COPAYMENT_2026
    assert "rights_debited" not in legs


async def test_an_illegal_transition_is_a_409_naming_the_state_and_writes_nothing(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    t = trainings
    dossier = await request(api, t)
    before = await footprint(wdb)
    refused = await api.post(f"{MINE}/{dossier['id']}/actions/accept", headers=t.citizen)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == PROBLEM + "transition-not-allowed"
    assert problem["state"] == "notProcessed" and problem["allowed_actions"] == ["cancel"]
    assert await footprint(wdb) == before


async def test_another_body_reaches_neither_the_dossier_nor_the_catalogue(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    t = trainings
    dossier = await request(api, t)
    before = await footprint(wdb)
    url = f"{BODY}/{dossier['id']}"
    acted = await api.post(f"{url}/actions/validate", headers=t.other_body)
    assert acted.status_code == 404 and acted.json()["type"] == PROBLEM + "dossier-not-found"
    assert (await api.get(url, headers=t.other_body)).status_code == 404
    session = {"starts_on": "2031-01-05", "ends_on": "2031-02-05", "price_cents": 1, "seats": 1}
    added = await api.post(
        f"/v1/catalogue/actions/{t.action_id}/sessions", json=session, headers=t.other_body
    )
    assert (
        added.status_code == 404 and added.json()["type"] == PROBLEM + "training-action-not-found"
    )
    changed = await api.patch(
        f"/v1/catalogue/sessions/{t.session_id}", json={"open": False}, headers=t.other_body
    )
    assert changed.status_code == 404
    assert await footprint(wdb) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_cents": 0}, "price_cents"),
        ({"price_cents": 10_000_001}, "price_cents"),
        ({"price_cents": "100"}, "price_cents"),
        ({"seats": 0}, "seats"),
        ({"ends_on": "2030-12-01"}, "ends_on"),
    ],
)
async def test_a_session_out_of_range_is_refused(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection,
    body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    session = {"starts_on": "2031-01-05", "ends_on": "2031-02-05", "price_cents": 100, "seats": 1}
    before = await footprint(wdb)
    refused = await api.post(
        f"/v1/catalogue/actions/{trainings.action_id}/sessions",
        json={**session, **body},
        headers=trainings.body,
    )
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert await footprint(wdb) == before


@pytest.mark.parametrize(
    "exit_body",
    [
        {"completion_basis_points": 10_001},
        {"completion_basis_points": -1},
        {"completion_basis_points": 5_000},  # partial without a reason
        {"completion_basis_points": 10_000, "exit_reason": "holder_abandon"},
        {},
    ],
)
async def test_a_completion_rate_out_of_range_is_refused(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection,
    exit_body: dict[str, Any],
) -> None:  # fmt: skip
    t = trainings
    dossier = await request(api, t)
    theirs = f"{BODY}/{dossier['id']}"
    await step(api, theirs, "validate", t.body)
    await step(api, f"{MINE}/{dossier['id']}", "accept", t.citizen)
    await step(api, theirs, "declare_entry", t.body)
    before = await footprint(wdb)
    refused = await api.post(f"{theirs}/actions/declare_exit", json=exit_body, headers=t.body)
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert await footprint(wdb) == before


async def test_a_start_too_early_is_refused(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    t = trainings
    dossier = await request(api, t)
    before = await footprint(wdb)
    soon = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    refused = await api.post(
        f"{BODY}/{dossier['id']}/actions/validate",
        json={"starts_on": soon},
        headers=t.body,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == PROBLEM + "start-too-early"
    assert refused.json()["earliest_start_on"] > soon
    assert await footprint(wdb) == before


async def test_a_sixth_open_request_is_refused(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    for _ in range(5):
        await request(api, trainings)
    before = await footprint(wdb)
    refused = await api.post(
        MINE, json={"session_id": str(trainings.session_id)}, headers=trainings.citizen
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == PROBLEM + "too-many-open-requests"
    assert await footprint(wdb) == before


async def test_search_pages_with_a_cursor(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    found = await api.get(
        "/v1/trainings", params={"certification_code": "RNCP37805", "limit": 1},
        headers=trainings.citizen,
    )  # fmt: skip
    assert found.status_code == 200, found.text
    page = found.json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    second = await api.get(
        "/v1/trainings",
        params={"certification_code": "RNCP37805", "limit": 1, "after": page["next_cursor"]},
        headers=trainings.citizen,
    )
    assert second.json()["items"][0]["id"] != page["items"][0]["id"]
    cheap = await api.get(
        "/v1/advisor/trainings", params={"price_cents_max": PRICE - 1}, headers=trainings.advisor
    )
    assert cheap.status_code == 200, cheap.text
    ids = {item["id"] for item in cheap.json()["items"]}
    assert str(trainings.other_action_id) in ids and str(trainings.action_id) not in ids


async def test_a_repeated_request_with_its_key_answers_the_same_dossier_and_writes_nothing(
    trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    headers = {**trainings.citizen, "Idempotency-Key": "dossier-once"}
    body = {"session_id": str(trainings.session_id)}
    first = await api.post(MINE, json=body, headers=headers)
    assert first.status_code == 201, first.text
    before = await footprint(wdb)
    again = await api.post(MINE, json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert await footprint(wdb) == before
    other = await api.post(MINE, json={**body, "job_seeker": True}, headers=headers)
    assert other.status_code == 409 and other.json()["type"] == PROBLEM + "idempotency-conflict"


def test_the_spec_documents_each_new_route_with_its_scopes_and_problems(world: World) -> None:
    spec = world.app.openapi_schema.to_schema()
    prefixes = (
        "/v1/trainings", "/v1/catalogue", "/v1/me/dossiers", "/v1/dossiers",
        "/v1/financer/dossiers", "/v1/advisor/trainings", "/v1/advisor/persons/{ref}/dossiers",
    )  # fmt: skip
    routes = [(path, ops) for path, ops in spec["paths"].items() if path.startswith(prefixes)]
    assert len(routes) >= 12
    for path, operations in routes:
        for method, operation in operations.items():
            assert "scopes: `" in operation["description"], (method, path)
            problems = operation["responses"]
            assert {"401", "403", "422"} <= set(problems), (method, path)
            assert problems["403"]["content"]["application/problem+json"], (method, path)
    action = spec["paths"]["/v1/me/dossiers/{dossier_id}/actions/{action}"]["post"]
    assert "transition-not-allowed" in action["responses"]["409"]["description"]


async def test_an_advisor_sees_the_citizens_dossiers_for_a_purpose_journaled(
    world: World, trainings: Trainings, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    dossier = await request(api, trainings)
    lookup = await api.post(
        "/v1/advisor/lookups",
        json={"nir": world.alice.nir, "advisor_id": "conseil-42", "purpose": "training_funding"},
        headers=trainings.advisor,
    )
    assert lookup.status_code == 201, lookup.text
    ref = lookup.json()["person_ref"]
    listed = await api.get(f"/v1/advisor/persons/{ref}/dossiers", headers=trainings.advisor)
    assert listed.status_code == 200, listed.text
    assert dossier["id"] in [d["id"] for d in listed.json()["dossiers"]]
    line = await wdb.fetchrow(
        "select advisor_id, purpose from access_journal where route = $1 order by id desc",
        "/v1/advisor/persons/{ref}/dossiers",
    )
    assert line is not None and tuple(line) == ("conseil-42", "training_funding")
    refused = await api.get(f"/v1/advisor/persons/{ref}/dossiers", headers=trainings.body)
    assert refused.status_code == 403
