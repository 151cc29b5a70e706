"""A real webhook endpoint on loopback (a small asyncio HTTP/1.1 server), a real ``cpa
serve`` with fast webhook settings, partners with client-credentials tokens, and events
written straight into the outbox, committed, as a dossier's transaction writes them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from cpa.auth.clients import NewClient, register_client
from cpa.auth.consents import grant_consent
from cpa.auth.login import ACR_PASSWORD
from cpa.auth.settings import auth_settings_from_environ
from cpa.db.pool import _init_connection
from cpa.events import lock_subject, record_event
from cpa.persons import NewPerson, NirVault, register_person
from tests.support.processes import (
    SERVER_STOP_TIMEOUT_S,
    cpa_env,
    free_port,
    start_server,
    wait_ready,
)

FAST = {
    "webhook_poll_ms": "50",
    "webhook_attempt_timeout_ms": "2000",
    "webhook_backoff_first_ms": "400",
    "webhook_backoff_max_ms": "3200",
    "webhook_failures_max": "6",
}
"""Webhook settings for tests: seconds where production waits minutes."""
HEAD_MAX_BYTES = 16_384
BODY_MAX_BYTES = 1_048_576
WAIT_STEP_S = 0.05


@dataclass
class Received:
    at: float
    """``time.monotonic()`` when the request was read."""
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An endpoint that records every POST; ``status`` decides each answer, ``delay_s`` how
    long it waits before answering (a slow integrator)."""

    port: int
    status: Callable[[Received], int] = lambda _: 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    """Requests read and not yet answered."""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def kill(self) -> None:
        """Stop listening and cut every open connection, mid-request if so."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        assert len(head) <= HEAD_MAX_BYTES
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)
        }
        length = int(headers.get("content-length", "0"))
        assert length <= BODY_MAX_BYTES
        request = Received(time.monotonic(), headers, await reader.readexactly(length))
        self.received.append(request)
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        status = self.status(request)
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        return True


@contextlib.asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(free_port(), **options)
    await receiver.start()
    try:
        yield receiver
    finally:
        if receiver._server is not None:
            await receiver.kill()


@contextlib.asynccontextmanager
async def cpa_server(
    dsn: str, data_dir: Path, workers: int = 1, **settings: str
) -> AsyncIterator[str]:
    """``python -m cpa serve`` with the fast webhook settings (and ``settings``): its URL.
    Stopped with SIGINT on leaving (clean exit required), killed on an error."""
    port = free_port()
    values = {**FAST, **settings}
    env = cpa_env(
        database_url=dsn, port=str(port), data_dir=str(data_dir), workers=str(workers), **values
    )
    server = start_server(env, data_dir / "serve.log", demo=False)
    try:
        base_url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_ready, base_url)
        yield base_url
        os.killpg(server.pid, signal.SIGINT)
        assert await asyncio.to_thread(server.wait, SERVER_STOP_TIMEOUT_S) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


async def connect(dsn: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(dsn)
    await _init_connection(connection)
    return connection


async def partner(db: asyncpg.Connection, kind: str, client_id: str) -> tuple[str, str]:
    """A partner of ``kind`` (its default scopes, events:read among them): (id, secret)."""
    creds = await register_client(
        db,
        NewClient(
            name=client_id, kind=kind, client_id=client_id,  # type: ignore[arg-type]
            redirect_uris=["https://partner.example/callback"], rate_limit_per_minute=1_000_000,
        ),
    )  # fmt: skip
    return str(creds["client_id"]), str(creds["client_secret"])


async def machine_token(http: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    """The partner's client-credentials token from the server's own token endpoint, as a
    header."""
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "events:read"},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def person(db: asyncpg.Connection, vault: NirVault, nir: str) -> UUID:
    who = await register_person(db, vault, NewPerson(nir=nir, birth_date=dt.date(1980, 5, 1)))
    return who.id


async def consent(db: asyncpg.Connection, person_id: UUID, client_id: str) -> None:
    await grant_consent(
        db, auth_settings_from_environ(), person_id=person_id, client_id=client_id,
        scopes=["account:read"], acr=ACR_PASSWORD, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip


async def write_event(
    db: asyncpg.Connection, subject: UUID, person_id: UUID, client_id: str, type: str
) -> int:
    """One committed event of ``subject``, in a transaction of its own holding its lock."""
    async with db.transaction():
        await lock_subject(db, subject)
        return await record_event(
            db, type=type, subject_id=subject, person_id=person_id, client_id=client_id,
            data={"dossier_id": str(subject), "state": type.split(".")[1]},
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip


async def until(check: Callable[[], Any], timeout_s: float, what: str) -> None:
    """Wait until ``check()`` is true (bounded): else fail saying ``what``."""
    deadline = time.monotonic() + timeout_s
    while not await _truth(check()):
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(WAIT_STEP_S)


async def _truth(value: Any) -> bool:
    return bool(await value) if asyncio.iscoroutine(value) else bool(value)
