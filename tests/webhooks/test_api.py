"""``/v1/events`` and ``/v1/webhooks`` on a real server: each client sees its own events and
those of the persons who consented to it, under its own pairwise ``sub``; bad input is a
problem and writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from cpa.auth.clients import find_client
from cpa.persons import NirVault
from tests.ledger.support import random_nir
from tests.webhooks.support import (
    connect,
    consent,
    cpa_server,
    machine_token,
    partner,
    person,
    receiving,
    until,
    write_event,
)

HTTP_TIMEOUT_S = 10.0
BIRTH = dt.date(1981, 6, 2)
PROBLEM = "application/problem+json"


async def _events(http: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await http.get("/v1/events", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


EXPECTED = {"body-one": 4, "body-two": 2, "portal-x": 4}
"""How many events each client may read (two per dossier it sees)."""
FINAL_WAIT_S = 10.0
"""An event is listed once every transaction older than its own ended: a read right after
its commit may have to wait for one still running (another client's, the jobs')."""


async def _walk_all(
    http: httpx.AsyncClient, auth: dict[str, str], count: int
) -> list[dict[str, Any]]:
    """The walk, again until it has ``count`` events (bounded)."""
    deadline = time.monotonic() + FINAL_WAIT_S
    while len(events := await _walk(http, auth)) < count:
        assert time.monotonic() < deadline, f"only {len(events)} of {count} events listed"
        await asyncio.sleep(0.05)
    return events


async def _walk(http: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    """Every event, one per page, following ``next_cursor`` (bounded)."""
    events: list[dict[str, Any]] = []
    cursor = "0-0"
    for _ in range(20):
        page = await _events(http, auth, after=cursor, limit=1)
        if not page["events"]:
            assert page["next_cursor"] == cursor
            return events
        events += page["events"]
        cursor = page["next_cursor"]
    raise AssertionError("more pages than events")


CLIENTS = (("body-one", "training_body"), ("body-two", "training_body"), ("portal-x", "portal"))
DOSSIERS = (("x_at_1", 0, "body-one"), ("y_at_1", 1, "body-one"), ("x_at_2", 0, "body-two"))
"""Each dossier: its name, its person (X = 0, Y = 1), its training body."""
STEPS = ("dossier.not_processed", "dossier.validated")


@pytest.mark.slow
async def test_each_client_sees_its_events_under_its_own_sub(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """Body 1 sees its dossiers of X and Y; body 2 its dossier of X; the portal X consented
    to sees X's dossiers at both bodies (and receives them by webhook), never Y's."""
    subjects = {name: uuid4() for name, _, _ in DOSSIERS}
    async with receiving() as receiver, cpa_server(fresh_dsn, tmp_path) as base:
        db = await connect(fresh_dsn)
        try:
            vault = NirVault.from_key_file(tmp_path / "nir.key")
            persons = [await person(db, vault, random_nir(BIRTH)) for _ in range(2)]
            creds = {name: await partner(db, kind, name) for name, kind in CLIENTS}
            await consent(db, persons[0], "portal-x")
            async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
                auth = {name: await machine_token(http, *c) for name, c in creds.items()}
                hook = {"url": receiver.url, "events": ["dossier.validated"]}
                answer = await http.post("/v1/webhooks", headers=auth["portal-x"], json=hook)
                assert answer.status_code == 201, answer.text
                for step in STEPS:
                    for name, who, body in DOSSIERS:
                        await write_event(db, subjects[name], persons[who], body, step)
                seen = {name: await _walk_all(http, a, EXPECTED[name]) for name, a in auth.items()}
                await until(lambda: len(receiver.received) == 2, 20, "the portal's deliveries")
            subs = {name: await _sub(db, name, persons[0]) for name in creds}
        finally:
            await db.close()
    by_subject = {name: {e["subject_id"] for e in events} for name, events in seen.items()}
    assert by_subject == {
        "body-one": {str(subjects["x_at_1"]), str(subjects["y_at_1"])},
        "body-two": {str(subjects["x_at_2"])},
        "portal-x": {str(subjects["x_at_1"]), str(subjects["x_at_2"])},
    }
    for name, events in seen.items():
        of_x = [e for e in events if e["subject_id"] != str(subjects["y_at_1"])]
        assert {e["sub"] for e in of_x} == {subs[name]}, "the client's own pairwise sub"
        assert all(str(p) not in str(e) for e in events for p in persons), "no internal id"
    assert len(set(subs.values())) == 3
    delivered = sorted(r.headers["webhook-id"] for r in receiver.received)
    wanted = [e for e in seen["portal-x"] if e["type"] == "dossier.validated"]
    assert delivered == sorted(f"evt_{e['cursor']}" for e in wanted)


async def _sub(db: asyncpg.Connection, client_id: str, person_id: UUID) -> str:
    client = await find_client(db, client_id)
    assert client is not None
    return client.subject_for(person_id)


HOOK = "https://partner.example/hook"
BAD_SUBSCRIPTIONS = [
    ({"url": "ftp://127.0.0.1/hook", "events": ["dossier.accepted"]}, "url"),
    ({"url": "javascript:alert(1)", "events": ["dossier.accepted"]}, "url"),
    ({"url": "http://partner.example/hook", "events": ["dossier.accepted"]}, "url"),
    ({"url": "https://user:pw@partner.example/hook", "events": ["dossier.accepted"]}, "url"),
    ({"url": HOOK, "events": ["dossier.exploded"]}, "events"),
    ({"url": HOOK, "events": ["*"]}, "events"),
    ({"url": HOOK, "events": []}, None),
    ({"url": HOOK, "events": ["dossier.accepted"], "secret": "pw"}, "secret"),
    ({"url": HOOK, "events": ["dossier.accepted"], "extra": 1}, None),
]
BAD_READS = [
    {"after": "abc"},
    {"after": "1-"},
    {"after": "1" * 30 + "-" + "1" * 30},
    {"limit": 0},
    {"limit": 501},
    {"limit": "ten"},
]


async def _count(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("select count(*) from webhook_subscriptions"))


@pytest.mark.slow
async def test_bad_input_is_a_problem_and_writes_nothing(fresh_dsn: str, tmp_path: Path) -> None:
    async with cpa_server(fresh_dsn, tmp_path) as base:
        db = await connect(fresh_dsn)
        try:
            body = await partner(db, "training_body", "body-bad")
            operator = await partner(db, "operator", "operator-bad")
            async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
                auth = await machine_token(http, *body)
                for wrong, field in BAD_SUBSCRIPTIONS:
                    answer = await http.post("/v1/webhooks", json=wrong, headers=auth)
                    _assert_problem(answer, 422, field)
                for params in BAD_READS:
                    _assert_problem(await http.get("/v1/events", params=params, headers=auth), 422)
                assert await _count(db) == 0
                assert (await http.get("/v1/webhooks", headers=auth)).json() == {"webhooks": []}
                await _others_are_refused(http, db, auth, operator)
        finally:
            await db.close()


async def _others_are_refused(
    http: httpx.AsyncClient, db: asyncpg.Connection, auth: dict[str, str], operator: tuple[str, str]
) -> None:
    """Another client's subscription is not found; a client without the scope is refused."""
    hook = {"url": HOOK, "events": ["dossier.accepted"]}
    created = (await http.post("/v1/webhooks", json=hook, headers=auth)).json()
    assert created["secret"].startswith("whsec_") and created["status"] == "enabled"
    other = await partner(db, "training_body", "body-other")
    other_auth = await machine_token(http, *other)
    for method in ("GET", "DELETE"):
        answer = await http.request(method, f"/v1/webhooks/{created['id']}", headers=other_auth)
        _assert_problem(answer, 404)
    answer = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=operator
    )
    operator_auth = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    _assert_problem(await http.get("/v1/events", headers=operator_auth), 403)
    assert "secret" not in (await http.get(f"/v1/webhooks/{created['id']}", headers=auth)).json()
    assert (await http.delete(f"/v1/webhooks/{created['id']}", headers=auth)).status_code == 204
    assert await _count(db) == 0


def _assert_problem(answer: httpx.Response, status: int, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert field in {error["field"] for error in answer.json()["errors"]}, answer.text
