"""A granian worker killed (SIGKILL) under load: it is replaced while the other keeps serving
(one listening socket shared by the workers: nothing queued to the dead one is reset), and a
worker that dies again right after its respawn never takes the service down (granian alone
exits on such a "crash loop")."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.faults.support import (
    Call,
    Load,
    assert_ledger_verified,
    assert_no_hold_lost_or_doubled,
    fault_server,
    hold_call,
    hold_token,
    holds_by_key,
    partner_token,
    wait_for,
    worker_pids,
)

LOOPS = 8
READ = ["account:read"]
HOLD_LOOPS = 2
BEFORE_KILL_S = 2.0
AFTER_KILL_S = 6.0
RESPAWN_TIMEOUT_S = 20.0
SERVICE_GAP_MAX_S = 1.0
"""Longest time without a successful answer once the worker is killed: the other one serves."""
WAITING_CONNECTIONS = 40
"""Connections made while one worker is frozen, then killed: with one SO_REUSEPORT socket per
worker (granian's default on Linux) about half would wait in the frozen worker's queue."""
FAILED_MAX = LOOPS
"""At most the killed worker's in-flight requests: one per loop, each loop having one request
in flight at a time."""


def _respawned(server_pid: int, before: list[int]) -> bool:
    now = worker_pids(server_pid)
    return len(now) == len(before) and set(now) != set(before)


async def test_a_killed_worker_is_replaced_and_the_service_answers_throughout(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """Reads and holds under load: failures only among the killed worker's in-flight requests,
    no second without an answer, every acknowledged hold once in a verified ledger."""
    with fault_server(tmp_path, database_url=fresh_dsn, workers="2") as server:
        reader = await partner_token(server.base_url, fresh_dsn, tmp_path, "portal", READ)
        bearer = {"Authorization": f"Bearer {reader}"}
        holder = {
            "Authorization": f"Bearer {await hold_token(server.base_url, fresh_dsn, tmp_path)}"
        }

        def calls(loop: int, n: int) -> Call:
            if loop < HOLD_LOOPS:
                return hold_call(holder, loop, n)
            return Call("GET", "/health/ready") if n % 2 else Call("GET", "/v1/me", bearer)

        load = Load(server.base_url, calls, loops=LOOPS, duration_s=60)
        killed_s, respawn_s = _kill_a_worker_under(load, server.pid)
        assert len(server.events("worker_crashed")) == 1
        held = await holds_by_key(fresh_dsn)
        assert_ledger_verified(server.env)
    failed = load.failed(ok=lambda o: o.status in (200, 201))
    acknowledged = assert_no_hold_lost_or_doubled(load, held)
    print(f"\nworker killed at {killed_s:.1f} s, respawned in {respawn_s:.2f} s;",
          load.summary(), f"failed={len(failed)}, holds acknowledged={acknowledged}")  # fmt: skip
    assert len(failed) <= FAILED_MAX, failed
    assert all(o.started_s < killed_s + 1.0 for o in failed), failed
    served = sorted(o.started_s + o.latency_s for o in load.outcomes if o.status in (200, 201))
    after_kill = [t for t in served if t >= killed_s]
    gaps = [b - a for a, b in zip([killed_s, *after_kill], after_kill, strict=False)]
    assert after_kill and max(gaps) < SERVICE_GAP_MAX_S, max(gaps)


def _kill_a_worker_under(load: Load, server_pid: int) -> tuple[float, float]:
    """When (in the load's time) a worker was killed, and how long its replacement took."""
    workers = worker_pids(server_pid)
    assert len(workers) == 2
    with load:
        time.sleep(BEFORE_KILL_S)
        os.kill(workers[0], signal.SIGKILL)
        killed_s = load.elapsed_s()
        respawn_s = wait_for(lambda: _respawned(server_pid, workers), RESPAWN_TIMEOUT_S)
        time.sleep(max(0.0, AFTER_KILL_S - respawn_s))
    return killed_s, respawn_s


async def test_a_worker_dying_again_right_after_its_respawn_is_replaced_again(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """Twice within granian's 5.5 s crash-loop window: still replaced, after a short delay."""
    with fault_server(tmp_path, database_url=fresh_dsn, workers="2") as server:
        for _ in range(2):
            workers = worker_pids(server.pid)
            os.kill(workers[0], signal.SIGKILL)
            wait_for(lambda: _respawned(server.pid, workers), RESPAWN_TIMEOUT_S)  # noqa: B023
        crashes = [json.loads(line) for line in server.events("worker_crashed")]
        assert len(crashes) == 2 and crashes[-1]["respawn_in_s"] > 0
        wait_for(lambda: _ready(server.base_url), RESPAWN_TIMEOUT_S)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_connections_waiting_when_a_worker_dies_are_served_by_another(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """The accept queue belongs to the one listening socket, not to the worker that died."""
    with fault_server(tmp_path, database_url=fresh_dsn, workers="2") as server:
        url = urlsplit(server.base_url)
        address = (url.hostname or "127.0.0.1", url.port or 80)
        victim = worker_pids(server.pid)[0]
        os.kill(victim, signal.SIGSTOP)
        wait_for(lambda: _frozen(victim), RESPAWN_TIMEOUT_S)
        clients: list[socket.socket] = []
        try:
            for _ in range(WAITING_CONNECTIONS):
                client = socket.create_connection(address, timeout=RESPAWN_TIMEOUT_S)
                client.sendall(
                    b"GET /health/live HTTP/1.1\r\nHost: cpa\r\nConnection: close\r\n\r\n"
                )
                clients.append(client)
            os.kill(victim, signal.SIGKILL)
            answers = [_first_bytes(client) for client in clients]
        finally:
            for client in clients:
                client.close()
    assert [a for a in answers if not a.startswith(b"HTTP/1.1 200")] == []


def _frozen(pid: int) -> bool:
    """Every thread of ``pid`` stopped: none can accept a connection any more."""
    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    return all((task / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "T" for task in tasks)


def _first_bytes(client: socket.socket) -> bytes:
    try:
        return client.recv(64)
    except OSError as error:
        return repr(error).encode()
