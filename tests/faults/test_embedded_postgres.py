"""The embedded PostgreSQL killed (SIGKILL of the postmaster) under load: the ``cpa serve`` that
runs it restarts it, /health/ready is 200 again within a bound, no acknowledged hold is lost or
duplicated, ``ledger verify`` is clean after. And the demo loader is reaped, never a zombie."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx

from tests.faults.support import (
    Call,
    FaultServer,
    Load,
    assert_ledger_verified,
    assert_no_hold_lost_or_doubled,
    fault_server,
    hold_call,
    hold_token,
    holds_by_key,
    wait_for,
    watchdog_pids,
)
from tests.support.processes import free_port

HOLD_LOOPS = 4
READY_LOOPS = 4
BEFORE_KILL_S = 2.0
AFTER_RECOVERY_S = 2.0
BACK_WITHIN_S = 15.0
"""From the kill to /health/ready 200 again (measured: ~2 s, crash recovery included)."""
DEMO_LOADED_WITHIN_S = 30.0
"""The demo loader, started with the workers, has ended (a zombie has no command line)."""
REAPED_WITHIN_S = 1.0
"""The watchdog looks at its child twice a second."""


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found += map(int, children)
        todo += map(int, children)
    return found


def _zombies(pid: int) -> list[int]:
    """Zombie descendants of ``pid``."""
    return [child for child in _descendants(pid) if _proc(child, "stat").rsplit(")", 1)[-1][:3]
            == " Z "]  # fmt: skip


def _demo_loader_running(pid: int) -> bool:
    return any(_proc(child, "cmdline").split("\0")[1:4] == ["-m", "cpa", "demo"]
               for child in _descendants(pid))  # fmt: skip


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


async def test_a_killed_embedded_postgres_is_restarted_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    data_dir, pg_port = tmp_path / "cpa", free_port()
    with fault_server(data_dir, pg_port=str(pg_port), workers="2") as server:
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/cpa"
        wait_for(lambda: not _demo_loader_running(server.pid), DEMO_LOADED_WITHIN_S)
        token = await hold_token(server.base_url, dsn, data_dir)
        bearer = {"Authorization": f"Bearer {token}"}

        def calls(loop: int, n: int) -> Call:
            return hold_call(bearer, loop, n) if loop < HOLD_LOOPS else Call("GET", "/health/ready")

        load = Load(server.base_url, calls, loops=HOLD_LOOPS + READY_LOOPS, duration_s=60)
        back_s, recovered_s = _kill_postgres_under(load, server)
        assert len(server.events("postgres_restarted")) == 1
        assert len(watchdog_pids(server.pid)) == 1
        held = await holds_by_key(dsn)
        assert_ledger_verified(server.env)
    acknowledged = assert_no_hold_lost_or_doubled(load, held)
    print(f"\npostgres killed, /health/ready 200 again {back_s:.1f} s later;", load.summary(),
          f"acknowledged holds={acknowledged}, in the ledger={len(held)}")  # fmt: skip
    server_errors = [o for o in load.outcomes if o.status is not None and o.status >= 500]
    assert all(o.status == 503 for o in server_errors), server_errors[:3]  # never a 500
    late = [o for o in load.outcomes if o.started_s > recovered_s + 0.5]
    assert late and all(o.status in (200, 201) for o in late), load.failed()


def test_the_demo_loader_is_reaped_as_soon_as_it_ends(fresh_dsn: str, tmp_path: Path) -> None:
    """It used to stay a zombie child of the server for the server's lifetime."""
    with fault_server(tmp_path, database_url=fresh_dsn) as server:
        wait_for(lambda: not _demo_loader_running(server.pid), DEMO_LOADED_WITHIN_S)
        time.sleep(REAPED_WITHIN_S)
        assert _zombies(server.pid) == []


def _kill_postgres_under(load: Load, server: FaultServer) -> tuple[float, float]:
    """Seconds from the kill to /health/ready 200, and when (in the load's time) that was."""
    with load:
        time.sleep(BEFORE_KILL_S)
        os.kill(server.postmaster_pid(), signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(0.5)
        wait_for(lambda: _ready(server.base_url), BACK_WITHIN_S)
        back_s, recovered_s = time.monotonic() - killed, load.elapsed_s()
        time.sleep(AFTER_RECOVERY_S)
    return back_s, recovered_s


FAILED_STARTS = 2
"""Restarts refused (its port taken) before the port is given back."""


def test_a_postgres_that_cannot_restart_is_retried_with_a_growing_delay(tmp_path: Path) -> None:
    """Its port taken by another listener, each start fails: logged, retried after 1 s, 2 s …
    (never a busy loop), and restarted once the port is free again."""
    data_dir, pg_port = tmp_path / "cpa", free_port()
    with fault_server(data_dir, pg_port=str(pg_port)) as server:
        watchdog = watchdog_pids(server.pid)[0]
        os.kill(watchdog, signal.SIGSTOP)  # so that the port is ours before its first look
        try:
            postmaster = server.postmaster_pid()
            os.kill(postmaster, signal.SIGKILL)
            squatter = _take_port(pg_port)
        finally:
            os.kill(watchdog, signal.SIGCONT)
        with squatter:
            wait_for(lambda: len(server.events("postgres_restart_failed")) >= FAILED_STARTS, 15)
        wait_for(lambda: server.events("postgres_restarted"), BACK_WITHIN_S)
        wait_for(lambda: _ready(server.base_url), BACK_WITHIN_S)
        failures = [json.loads(line) for line in server.events("postgres_restart_failed")]
        restarted = [json.loads(line) for line in server.events("postgres_restarted")]
    print(f"\nrestart failures: {[(f['attempts'], f['retry_in_s']) for f in failures]}")
    assert [f["retry_in_s"] for f in failures[:FAILED_STARTS]] == [1.0, 2.0]
    assert len(restarted) == 1 and restarted[0]["attempts"] == len(failures) + 1


def _take_port(port: int) -> socket.socket:
    """A listener on the dead postmaster's port, once the kernel has released it."""
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds it
    deadline = time.monotonic() + 5.0
    while True:
        try:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            return squatter
        except OSError:
            if time.monotonic() > deadline:
                squatter.close()
                raise
            time.sleep(0.01)
