"""PostgreSQL stopped for 20 s under load, then started again (issue 10, defects 2 and 3).

A throwaway PostgreSQL of our own, a real ``cpa serve`` with two workers on it, 16 loops of
``GET /v1/me`` and two loops of holds with idempotency keys. Every request is answered —
503 problems with ``Retry-After`` during the outage, 200 after — within ``ANSWER_BOUND_S``
(the server's bound: pool acquire 2 s + statement 6 s, ``cpa.config.Settings``); the log has
one ``database_unavailable`` line per worker and no traceback; the ledger verifies and every
acknowledged hold is in it exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.admin import create_database, migrate_database, with_database
from cpa.db.embedded import EmbeddedPostgres
from tests.conftest import TEST_PG_SETTINGS
from tests.faults.support import (
    HOLD_KEY_PREFIX,
    assert_ledger_verified,
    hold_token,
    holds_by_key,
    partner_token,
)
from tests.support.processes import PROJECT, cpa_env, free_port, start_server, wait_ready

WORKERS = 2
READERS = 16
HOLDERS = 2
WARM_S = 3.0
OUTAGE_S = 20.0
AFTER_S = 6.0
RECOVERY_S = 2.0
"""After PostgreSQL answers again, every request started later than this must succeed."""
ANSWER_BOUND_S = 10.0
"""The longest a request may wait for its answer (2 s to acquire + 6 s for a statement)."""
CLIENT_TIMEOUT_S = ANSWER_BOUND_S + 5
HOLD_CENTS = 10
DATABASE = "cpa_outage"


@dataclass
class Outcome:
    started_at: float
    path: str
    status: int | None  # None: no answer (timeout or transport error)
    duration_s: float
    problem_type: str | None = None
    retry_after: str | None = None
    error: str | None = None


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)

    async def request(
        self, http: httpx.AsyncClient, method: str, path: str, **kwargs: object
    ) -> Outcome:
        started = time.monotonic()
        try:
            response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            outcome = Outcome(started, path, None, time.monotonic() - started, error=repr(error))
        else:
            problem = None
            if response.headers.get("content-type", "").startswith("application/problem+json"):
                problem = response.json().get("type")
            outcome = Outcome(
                started, path, response.status_code, time.monotonic() - started,
                problem_type=problem, retry_after=response.headers.get("retry-after"),
            )  # fmt: skip
        self.outcomes.append(outcome)
        return outcome

    async def read(self, http: httpx.AsyncClient, token: str, until: float) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < until:
            outcome = await self.request(http, "GET", "/v1/me", headers=headers)
            if outcome.status != 200:
                await asyncio.sleep(0.05)  # a client backing off a little, not spinning

    async def hold(self, http: httpx.AsyncClient, token: str, loop: int, until: float) -> None:
        """Holds with a key each; after a 503 the same key is sent again (never a second hold)."""
        attempt = 0
        key = f"{HOLD_KEY_PREFIX}{loop}-{attempt}"
        expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
        body = {"amount_cents": HOLD_CENTS, "training_reference": "RNCP-1",
                "expires_at": expires_at}  # fmt: skip
        while time.monotonic() < until:
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
            outcome = await self.request(http, "POST", "/v1/me/cpf/holds", headers=headers,
                                         json=body)  # fmt: skip
            if outcome.status == 201:
                self.acknowledged.append(key)
                attempt += 1
                key = f"{HOLD_KEY_PREFIX}{loop}-{attempt}"
            else:
                await asyncio.sleep(0.1)


@pytest.fixture
def postgres() -> Iterator[EmbeddedPostgres]:
    data_dir = Path(tempfile.mkdtemp(prefix="cpa-fault-pg-"))
    pg = EmbeddedPostgres(
        data_dir, free_port(), cache_dir=PROJECT / ".cpa/pgbin", settings=TEST_PG_SETTINGS
    )
    pg.ensure_running()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def dsn(postgres: EmbeddedPostgres) -> AsyncIterator[str]:
    await create_database(postgres.dsn(), DATABASE)
    dsn = with_database(postgres.dsn(), DATABASE)
    await migrate_database(dsn)
    yield dsn


@pytest.fixture
def server(dsn: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = cpa_env(database_url=dsn, port=str(port), data_dir=str(tmp_path),
                  workers=str(WORKERS))  # fmt: skip
    log_path = tmp_path / "serve.log"
    process = start_server(env, log_path)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _tokens(dsn: str, base_url: str, data_dir: Path) -> tuple[list[str], list[str]]:
    readers = [await partner_token(base_url, dsn, data_dir, "portal", ["account:read"])
               for _ in range(READERS)]  # fmt: skip
    holders = [await hold_token(base_url, dsn, data_dir) for _ in range(HOLDERS)]
    return readers, holders


def _log_events(log_path: Path) -> tuple[Counter[str], str]:
    text = log_path.read_text(errors="replace")
    events: Counter[str] = Counter()
    for line in text.splitlines():
        try:
            events[json.loads(line).get("event", "")] += 1
        except (ValueError, AttributeError):
            continue
    return events, text


async def test_every_request_is_answered_through_a_database_outage(
    postgres: EmbeddedPostgres, dsn: str, server: tuple[str, Path]
) -> None:
    base_url, data_dir = server
    readers, holders = await _tokens(dsn, base_url, data_dir)
    load = Load()
    limits = httpx.Limits(max_connections=READERS + HOLDERS + 4)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=CLIENT_TIMEOUT_S, limits=limits
    ) as http:
        # Bounded in time twice: the loops stop by themselves at ``until``, and are
        # cancelled once the phases below are over.
        until = time.monotonic() + WARM_S + OUTAGE_S + AFTER_S + 30
        tasks = [asyncio.create_task(load.read(http, token, until)) for token in readers]
        tasks += [
            asyncio.create_task(load.hold(http, token, index, until))
            for index, token in enumerate(holders)
        ]
        await asyncio.sleep(WARM_S)
        outage_started = time.monotonic()
        await asyncio.to_thread(postgres.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(postgres.ensure_running)
        back_at = time.monotonic()
        await asyncio.sleep(AFTER_S)
        ended_at = time.monotonic()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError | None) for r in results), results

    outcomes = load.outcomes
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, f"{len(unanswered)} unanswered of {len(outcomes)}: {unanswered[:3]}"
    slow = [o for o in outcomes if o.duration_s > ANSWER_BOUND_S]
    assert not slow, slow[:3]
    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {200, 201, 503}, statuses
    refused = [o for o in outcomes if o.status == 503]
    assert refused, "the outage was never seen"
    assert all(
        o.problem_type == "urn:cpa:problem:unavailable" and o.retry_after for o in refused
    ), refused[:3]
    during = [o for o in outcomes if outage_started + 1 < o.started_at < back_at - 1]
    assert during and all(o.status == 503 for o in during), Counter(o.status for o in during)
    after = [o for o in outcomes if back_at + RECOVERY_S < o.started_at < ended_at]
    assert after and all(o.status in (200, 201) for o in after), Counter(o.status for o in after)
    first_ok = min(o.started_at for o in outcomes if o.started_at > back_at and o.status == 200)
    first_ok -= back_at
    longest = max(o.duration_s for o in outcomes)
    print(f"\n{len(outcomes)} requests {dict(statuses)}, longest answer {longest:.3f} s, "
          f"a 200 again {first_ok:.3f} s after the restart")  # fmt: skip

    events, text = _log_events(data_dir / "serve.log")
    told = [line for line in text.splitlines() if '"database_' in line]
    assert 1 <= events["database_unavailable"] <= WORKERS, (events, told, outage_started, back_at)
    assert 1 <= events["database_available_again"] <= WORKERS, (events, told)
    assert "Traceback" not in text and events["request_failed"] == 0

    await asyncio.to_thread(assert_ledger_verified, cpa_env(database_url=dsn))
    assert load.acknowledged, "no hold was acknowledged"
    holds = await holds_by_key(dsn)
    assert all(holds.get(key) == 1 for key in load.acknowledged), [
        (key, holds.get(key)) for key in load.acknowledged if holds.get(key) != 1
    ]


async def test_a_worker_started_while_the_database_is_down_answers_503_then_recovers(
    postgres: EmbeddedPostgres, dsn: str, tmp_path: Path
) -> None:
    """The app's start does not need PostgreSQL (its pool starts empty): until the database
    answers, readiness, guarded routes and the token endpoint are 503 with Retry-After."""
    await asyncio.to_thread(postgres.stop)
    settings = Settings(database_url=dsn, data_dir=tmp_path, log_format="json")
    async with AsyncTestClient(create_app(settings)) as http:
        ready = await http.get("/health/ready")
        assert ready.status_code == 503 and ready.headers["retry-after"], ready.text
        me = await http.get("/v1/me", headers={"Authorization": "Bearer not.a.token"})
        assert me.status_code == 503 and me.headers["retry-after"], me.text
        assert me.json()["type"] == "urn:cpa:problem:unavailable"
        token = await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("someone", "secret")
        )
        assert token.status_code == 503 and token.headers["retry-after"], token.text
        assert token.json()["error"] == "temporarily_unavailable"
        await asyncio.to_thread(postgres.ensure_running)
        started = time.monotonic()
        while (await http.get("/health/ready")).status_code != 200:
            assert time.monotonic() - started < RECOVERY_S, "not ready again"
            await asyncio.sleep(0.05)
