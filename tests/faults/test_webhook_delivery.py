"""Webhooks against a real ``cpa serve`` and a real endpoint on loopback: every event
arrives signed and in order per dossier through a receiver's death, retries wait longer each
time, an endpoint failing too long is disabled and says so. Run by ``make faults`` (a receiver
killed, backoff waited out for real: ~25 s), not ``make test``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from standardwebhooks import Webhook

from cpa.ledger import credit_year
from cpa.persons import NirVault
from cpa.trainings import NewSession, NewTrainingAction, create_action, create_session
from cpa.webhooks import EVENT_TYPES
from tests.ledger.support import declare_year, random_nir
from tests.support.keys import keyed
from tests.support.tokens import Minter
from tests.webhooks.support import (
    Received,
    Receiver,
    connect,
    cpa_server,
    machine_token,
    partner,
    person,
    receiving,
    until,
    write_event,
)

HTTP_TIMEOUT_S = 10.0
STEPS = ("dossier.not_processed", "dossier.validated", "dossier.accepted",
         "dossier.rights_held", "dossier.in_training", "dossier.terminated")  # fmt: skip
BIRTH = dt.date(1980, 5, 1)


async def subscribe(http: httpx.AsyncClient, auth: dict[str, str], url: str) -> dict[str, Any]:
    answer = await http.post(
        "/v1/webhooks", json={"url": url, "events": list(EVENT_TYPES)}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def replay(http: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = await http.get("/v1/events", params={"limit": 500}, headers=auth)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def first_arrivals(received: list[Received]) -> dict[str, Received]:
    firsts: dict[str, Received] = {}
    for request in received:
        firsts.setdefault(request.headers["webhook-id"], request)
    return firsts


def sequences_by_subject(received: list[Received]) -> dict[str, list[int]]:
    """Each subject's event sequences in the order they arrived, repeats included."""
    order: dict[str, list[int]] = defaultdict(list)
    for request in received:
        event = json.loads(request.body)
        order[event["subject_id"]].append(event["sequence"])
    return order


async def _stream(dsn: str, subjects: list[UUID], person_id: UUID, client_id: str) -> None:
    """Each subject through its steps, the subjects interleaved, a little apart."""
    db = await connect(dsn)
    try:
        for step in STEPS:
            for subject in subjects:
                await write_event(db, subject, person_id, client_id, step)
                await asyncio.sleep(0.03)
    finally:
        await db.close()


async def _world(dsn: str, data_dir: Path, client_id: str) -> tuple[str, str, UUID]:
    db = await connect(dsn)
    try:
        body, secret = await partner(db, "training_body", client_id)
        person_id = await person(
            db, NirVault.from_key_file(data_dir / "nir.key"), random_nir(BIRTH)
        )
    finally:
        await db.close()
    return body, secret, person_id


async def test_a_receiver_killed_mid_stream_gets_every_event_in_order_signed(
    fresh_dsn: str, tmp_path: Path
) -> None:
    subjects = [uuid4() for _ in range(3)]
    async with receiving() as receiver, cpa_server(fresh_dsn, tmp_path) as base:
        body, secret, person_id = await _world(fresh_dsn, tmp_path, "body-killed")
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
            auth = await machine_token(http, body, secret)
            hook = await subscribe(http, auth, receiver.url)
            writing = asyncio.create_task(_stream(fresh_dsn, subjects, person_id, body))
            await until(lambda: len(receiver.received) >= 4, 20, "the first deliveries")
            await receiver.kill()
            before_kill = len(first_arrivals(receiver.received))
            await asyncio.sleep(1.5)  # down: attempts fail (connection refused)
            await receiver.start()
            await writing
            total = len(STEPS) * len(subjects)
            await until(lambda: len(first_arrivals(receiver.received)) == total, 30, "every event")
            events = await replay(http, auth)
            status = (await http.get(f"/v1/webhooks/{hook['id']}", headers=auth)).json()
    assert 4 <= before_kill < total, "killed mid-stream"
    _assert_signed_and_same_as_replay(receiver, hook["secret"], events)
    for subject, sequences in sequences_by_subject(receiver.received).items():
        assert sequences == sorted(sequences), f"{subject} out of order: {sequences}"
        assert sorted(set(sequences)) == list(range(1, len(STEPS) + 1))
    assert status["status"] == "enabled" and status["failures_consecutive"] == 0
    assert status["last_error"] is not None and status["deliveries_pending"] == 0


def _assert_signed_and_same_as_replay(
    receiver: Receiver, secret: str, events: list[dict[str, Any]]
) -> None:
    """Every request verifies with standardwebhooks; its body is the replayed event."""
    by_id = {f"evt_{event['cursor']}": event for event in events}
    for request in receiver.received:
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload == by_id[request.headers["webhook-id"]]
    assert set(first_arrivals(receiver.received)) == set(by_id)


async def test_retries_wait_longer_each_time(fresh_dsn: str, tmp_path: Path) -> None:
    """The endpoint refuses the first four attempts: the gaps between attempts grow (waits of
    0.4–0.8 s, 0.8–1.6 s, 1.6–3.2 s, 3.2–6.4 s with equal jitter)."""
    failing = 4
    slower = {"webhook_backoff_first_ms": "800", "webhook_backoff_max_ms": "6400"}
    async with (
        receiving(status=lambda _: 503) as receiver,
        cpa_server(fresh_dsn, tmp_path, **slower) as base,
    ):
        receiver.status = lambda _: 503 if len(receiver.received) <= failing else 200
        body, secret, person_id = await _world(fresh_dsn, tmp_path, "body-backoff")
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
            auth = await machine_token(http, body, secret)
            hook = await subscribe(http, auth, receiver.url)
            db = await connect(fresh_dsn)
            try:
                await write_event(db, uuid4(), person_id, body, "dossier.validated")
            finally:
                await db.close()
            await until(lambda: len(receiver.received) == failing + 1, 30, "the fifth attempt")
            status = (await http.get(f"/v1/webhooks/{hook['id']}", headers=auth)).json()
    times = [request.at for request in receiver.received]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    print(f"backoff gaps (s): {[round(g, 3) for g in gaps]}")
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for earlier, later in pairwise(gaps):
        assert later >= earlier - 0.25, gaps  # the poll interval, its jitter, a busy machine
    assert gaps[-1] >= 2.5 * gaps[0], gaps  # 4 at least, but for the poll's lateness
    assert status["last_error"] == "HTTP 503" and status["failures_consecutive"] == 0


async def test_an_endpoint_failing_too_long_is_disabled_and_says_so(
    fresh_dsn: str, tmp_path: Path
) -> None:
    settings = {"webhook_failures_max": "3", "webhook_backoff_first_ms": "100"}
    async with (
        receiving(status=lambda _: 500) as receiver,
        cpa_server(fresh_dsn, tmp_path, **settings) as base,
    ):
        body, secret, person_id = await _world(fresh_dsn, tmp_path, "body-disabled")
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
            auth = await machine_token(http, body, secret)
            hook = await subscribe(http, auth, receiver.url)
            url = f"/v1/webhooks/{hook['id']}"
            db = await connect(fresh_dsn)
            try:
                for _ in range(2):
                    await write_event(db, uuid4(), person_id, body, "dossier.validated")

                async def disabled() -> bool:
                    answer = await http.get(url, headers=auth)
                    return bool(answer.json()["status"] == "disabled")

                await until(disabled, 20, "the subscription disabled")
                attempts = len(receiver.received)
                await write_event(db, uuid4(), person_id, body, "dossier.accepted")
            finally:
                await db.close()
            await asyncio.sleep(1.0)  # twenty polls: nothing more is sent
            status = (await http.get(url, headers=auth)).json()
            listed = (await http.get("/v1/webhooks", headers=auth)).json()["webhooks"]
            events = await replay(http, auth)
    assert len(receiver.received) == attempts
    assert status["status"] == "disabled" and status["disabled_at"] is not None
    assert status["failures_consecutive"] >= 3 and status["last_error"] == "HTTP 500"
    assert status["deliveries_pending"] == 2, "the event after disabling is not queued"
    assert [w["status"] for w in listed] == ["disabled"]
    assert len(events) == 3, "the replay still has every event"
    log = (tmp_path / "serve.log").read_text()
    assert log.count('"webhook_subscription_disabled"') == 1


async def test_two_workers_deliver_each_event_once_in_order(fresh_dsn: str, tmp_path: Path) -> None:
    """Two processes claim deliveries at once: skip locked and the lease send each once."""
    subjects = [uuid4() for _ in range(5)]
    async with receiving() as receiver, cpa_server(fresh_dsn, tmp_path, workers=2) as base:
        body, secret, person_id = await _world(fresh_dsn, tmp_path, "body-workers")
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
            auth = await machine_token(http, body, secret)
            hook = await subscribe(http, auth, receiver.url)
            await _stream(fresh_dsn, subjects, person_id, body)
            total = len(STEPS) * len(subjects)
            await until(lambda: len(receiver.received) >= total, 30, "every event")
            await asyncio.sleep(0.5)  # ten polls more: a duplicate would show
            events = await replay(http, auth)
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert sorted(ids) == sorted(f"evt_{event['cursor']}" for event in events), "each once"
    _assert_signed_and_same_as_replay(receiver, hook["secret"], events)
    for sequences in sequences_by_subject(receiver.received).values():
        assert sequences == list(range(1, len(STEPS) + 1))


LATENCY_SAMPLES = 60
RECEIVER_DELAY_S = 1.5
"""Below the attempt timeout (2 s): deliveries succeed, each holding its endpoint 1.5 s."""


async def _credited(db: Any, data_dir: Path) -> UUID:
    person_id = await person(db, NirVault.from_key_file(data_dir / "nir.key"), random_nir(BIRTH))
    for year in (2023, 2024):
        await declare_year(db, person_id, year)
        await credit_year(db, person_id, year, today=dt.date(2025, 4, 15))
    return person_id


async def _hold_latencies(
    http: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver, label: str
) -> tuple[list[float], list[int]]:
    """Seconds each of the POSTs took, and the deliveries in flight as each began."""
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    latencies, in_flight = [], []
    for index in range(LATENCY_SAMPLES):
        hold = {
            "amount_cents": 1,
            "training_reference": f"{label}-{index}",
            "expires_at": expires_at,
        }
        in_flight.append(receiver.in_flight)
        started = time.perf_counter()
        answer = await http.post("/v1/me/cpf/holds", json=hold, headers=keyed(headers))
        latencies.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.text
    return latencies, in_flight


async def _sessions(db: Any, body: str, count: int) -> list[UUID]:
    """``count`` training actions of ``body``, each with one session (a citizen may hold at
    most 5 open requests per action: one request per action here)."""
    now = dt.datetime.now(dt.UTC)
    starts_on = now.date() + dt.timedelta(days=90)
    sessions = []
    for index in range(count):
        action = await create_action(
            db, body, NewTrainingAction(title=f"Action {index}", certification_code="RS5063",
                                        duration_hours=35,
                                        modality="remote"), now=now,
        )  # fmt: skip
        session = await create_session(
            db, body, action.id,
            NewSession(starts_on=starts_on, ends_on=starts_on, price_cents=50_000, seats=10),
            now=now,
        )  # fmt: skip
        sessions.append(session.id)
    return sessions


async def _dossier_latencies(
    http: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver, sessions: list[UUID]
) -> tuple[list[float], list[int]]:
    """Seconds each ``POST /v1/me/dossiers`` took (the request writes its dossier, history,
    journal line and first event), and the deliveries in flight as each began."""
    latencies, in_flight = [], []
    for session_id in sessions:
        in_flight.append(receiver.in_flight)
        started = time.perf_counter()
        answer = await http.post(
            "/v1/me/dossiers", json={"session_id": str(session_id)}, headers=keyed(headers)
        )
        latencies.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.text
    return latencies, in_flight


def _figures(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * len(ordered)) - 1], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


async def test_a_slow_receiver_does_not_slow_the_api(fresh_dsn: str, tmp_path: Path) -> None:
    """POST /v1/me/cpf/holds and POST /v1/me/dossiers while every delivery waits 1.5 s for its
    endpoint: as fast as with no delivery going on (the request writes rows; deliveries run
    beside it)."""
    subjects = [uuid4() for _ in range(40)]
    async with (
        receiving(delay_s=RECEIVER_DELAY_S) as receiver,
        cpa_server(fresh_dsn, tmp_path) as base,
    ):
        body, secret, person_id = await _world(fresh_dsn, tmp_path, "body-slow")
        db = await connect(fresh_dsn)
        try:
            holder = await _credited(db, tmp_path)
            minter = Minter(base, tmp_path)
            async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
                auth = await machine_token(http, body, secret)
                await subscribe(http, auth, receiver.url)
                await minter.load_keys(db)
                token = await minter.token(db, body, holder, ["cpf:read", "cpf:hold"])
                headers = {"Authorization": f"Bearer {token}"}
                await _hold_latencies(http, headers, receiver, "warm")  # connections, caches
                idle, _ = await _hold_latencies(http, headers, receiver, "idle")
                for step in STEPS[:2]:
                    for subject in subjects:
                        await write_event(db, subject, person_id, body, step)
                await until(lambda: receiver.in_flight >= 10, 20, "deliveries in flight")
                busy, in_flight = await _hold_latencies(http, headers, receiver, "busy")
                # The same for the dossier requests (their events go to this endpoint too).
                portal, _ = await partner(db, "portal", "portal-slow")
                citizen = await minter.token(db, portal, holder, ["dossiers:write"])
                sessions = await _sessions(db, body, 2 * LATENCY_SAMPLES)
                asking = {"Authorization": f"Bearer {citizen}"}
                dossiers_busy, dossiers_flying = await _dossier_latencies(
                    http, asking, receiver, sessions[:LATENCY_SAMPLES]
                )
                await until(lambda: receiver.in_flight == 0, 60, "deliveries drained")
                dossiers_idle, _ = await _dossier_latencies(
                    http, asking, receiver, sessions[LATENCY_SAMPLES:]
                )
        finally:
            await db.close()
    flying = f"min {min(in_flight)} max {max(in_flight)}"
    print(f"POST /v1/me/cpf/holds idle {_figures(idle)} busy {_figures(busy)}; in flight {flying}")
    print(f"POST /v1/me/dossiers idle {_figures(dossiers_idle)} busy {_figures(dossiers_busy)}; "
          f"in flight min {min(dossiers_flying)} max {max(dossiers_flying)}")  # fmt: skip
    assert min(in_flight) > 0, "deliveries were waiting on the endpoint all along"
    assert max(busy) < RECEIVER_DELAY_S / 3, "no request waited for a delivery"
    assert statistics.median(busy) <= 1.5 * statistics.median(idle) + 0.02
    assert min(dossiers_flying) > 0 and max(dossiers_busy) < RECEIVER_DELAY_S / 3
    assert statistics.median(dossiers_busy) <= 1.5 * statistics.median(dossiers_idle) + 0.02
