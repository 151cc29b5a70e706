"""Helpers for fault tests: a real ``python -m cpa serve`` to break, its processes, and a
bounded load that records every request it made.

- ``FaultServer``: a server started with any settings (embedded PostgreSQL when no
  ``database_url``), stopped with Ctrl-C at the end (a clean exit required), killed with its
  process group on a failure, its embedded PostgreSQL stopped in every case.
- ``worker_pids`` / ``watchdog_pids``: the server's granian workers and its watchdog.
- ``Load``: N concurrent loops of httpx requests in threads, bounded in time and count; every
  request's outcome (status or error), latency and Idempotency-Key is kept in ``outcomes``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cpa.auth.principal import ClientKind
from cpa.db.pool import _init_connection
from tests.ledger.test_holds import funded
from tests.support.processes import cpa_env, free_port, run_cpa, start_server, wait_ready
from tests.support.tokens import Minter, register_partner

SERVER_STOP_TIMEOUT_S = 30
READY_TIMEOUT_S = 90


# -- the server -----------------------------------------------------------------------------


@dataclass
class FaultServer:
    process: subprocess.Popen[bytes]
    base_url: str
    env: dict[str, str]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self, name: str) -> list[str]:
        """Log lines of the structlog event ``name``."""
        return [line for line in self.log_lines() if f'"event":"{name}"' in line]

    def pgdata(self) -> Path:
        """The embedded server's data directory, as it logged it (as root, PostgreSQL runs as
        ``nobody`` and its directory moves under /tmp when ``nobody`` cannot reach ours)."""
        started = self.events("postgres_started") or self.events("postgres_reused")
        return Path(json.loads(started[0])["data_dir"])

    def remove_moved_directories(self) -> None:
        """The directories the embedded server used under /tmp instead of ours (as root)."""
        for line in self.events("postgres_directory_moved"):
            used = Path(json.loads(line)["used"]).parent
            if used.name.startswith("cpa-") and used.parent == Path(tempfile.gettempdir()):
                shutil.rmtree(used, ignore_errors=True)

    def postmaster_pid(self) -> int:
        return int((self.pgdata() / "postmaster.pid").read_text().split()[0])


@contextmanager
def fault_server(data_dir: Path, **settings: str) -> Iterator[FaultServer]:
    """A ready ``python -m cpa serve`` with ``CPA_<NAME>`` = each of ``settings``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = cpa_env(port=str(port), data_dir=str(data_dir), **settings)
    log_path = data_dir / "serve.log"
    process = start_server(env, log_path)
    server = FaultServer(process, f"http://127.0.0.1:{port}", env, log_path)
    try:
        wait_ready(server.base_url, READY_TIMEOUT_S)
        yield server
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(SERVER_STOP_TIMEOUT_S) == 0, "a clean stop exits 0"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if "database_url" not in settings:
            run_cpa("db", "stop", env=env)  # the postmaster lives in a session of its own
            server.remove_moved_directories()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(server_pid: int) -> list[int]:
    """The server's granian workers: its children forked from it (same command line)."""
    own = _cmdline(server_pid)
    return [pid for pid in _children(server_pid) if _cmdline(pid) == own]


def watchdog_pids(server_pid: int) -> list[int]:
    return [pid for pid in _children(server_pid) if "cpa.db.watchdog" in _cmdline(pid)]


def wait_for(condition: Callable[[], Any], timeout_s: float, step_s: float = 0.05) -> float:
    """Seconds until ``condition()`` is true; TimeoutError after ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(step_s)
    raise TimeoutError(f"not true after {timeout_s} s")


def raise_open_files_limit(wanted: int) -> None:
    """This test process's RLIMIT_NOFILE soft limit up to ``wanted`` (never above the hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


# -- the load -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    loop: int
    started_s: float
    """Since the load started."""
    latency_s: float
    status: int | None
    error: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


CallFactory = Callable[[int, int], Call]
"""(loop, n) -> the n-th request of that loop."""


class Load:
    """``loops`` threads, each sending ``calls(loop, n)`` one after another on its own keep-alive
    client, until ``stop()``, ``duration_s`` or ``requests_per_loop_max``, whichever first."""

    def __init__(
        self,
        base_url: str,
        calls: CallFactory,
        *,
        loops: int = 8,
        duration_s: float = 30.0,
        requests_per_loop_max: int = 20_000,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.calls = calls
        self.loops = loops
        self.duration_s = duration_s
        self.requests_per_loop_max = requests_per_loop_max
        self.timeout_s = timeout_s
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    def __enter__(self) -> Load:
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(self.loops)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 5)

    def _loop(self, loop: int) -> None:
        deadline = self._started + self.duration_s
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
            for n in range(self.requests_per_loop_max):
                if self._stopped.is_set() or time.monotonic() > deadline:
                    return
                self._send(client, loop, self.calls(loop, n))

    def _send(self, client: httpx.Client, loop: int, call: Call) -> None:
        started = time.monotonic()
        status, error = None, None
        try:
            status = client.request(call.method, call.path, headers=call.headers,
                                    json=call.json).status_code  # fmt: skip
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        outcome = Outcome(loop, started - self._started, time.monotonic() - started,
                          status, error, call.idempotency_key)  # fmt: skip
        with self._lock:
            self.outcomes.append(outcome)

    # -- figures --------------------------------------------------------------------------

    def failed(self, ok: Callable[[Outcome], bool] = lambda o: o.status == 200) -> list[Outcome]:
        return [o for o in self.outcomes if not ok(o)]

    def summary(self) -> dict[str, Any]:
        latencies = sorted(o.latency_s for o in self.outcomes)
        statuses: dict[str, int] = {}
        for o in self.outcomes:
            key = str(o.status) if o.status is not None else (o.error or "?").split(":")[0]
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "requests": len(self.outcomes),
            "by_status": statuses,
            "latency_max_s": round(latencies[-1], 3) if latencies else None,
            "latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 3) if latencies else None,
        }


# -- the ledger after a fault ---------------------------------------------------------------

HOLD_SCOPES = ["cpf:read", "cpf:hold"]
HOLD_KEY_PREFIX = "fault-"


async def partner_token(
    base_url: str, dsn: str, data_dir: Path, kind: ClientKind, scopes: list[str]
) -> str:
    """A partner of ``kind``'s token, with ``scopes``, for a funded person of the server's
    database (made by the server's own key, as after a consent)."""
    db = await asyncpg.connect(dsn)
    try:
        await _init_connection(db)
        person_id = await funded(db)
        partner = await register_partner(db, kind, f"{kind} under faults")
        minter = Minter(base_url, data_dir)
        await minter.load_keys(db)
        return await minter.token(db, partner, person_id, scopes)
    finally:
        await db.close()


async def hold_token(base_url: str, dsn: str, data_dir: Path) -> str:
    """A training body's token that may hold the person's CPF."""
    return await partner_token(base_url, dsn, data_dir, "training_body", HOLD_SCOPES)


def hold_call(bearer: dict[str, str], loop: int, n: int) -> Call:
    """One cent held for 30 days, keyed ``fault-<loop>-<n>``."""
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    body = {"amount_cents": 1, "training_reference": "RNCP-35001", "expires_at": expires_at}
    headers = {**bearer, "Idempotency-Key": f"{HOLD_KEY_PREFIX}{loop}-{n}"}
    return Call("POST", "/v1/me/cpf/holds", headers, body)


async def holds_by_key(dsn: str) -> dict[str, int]:
    """How many holds the ledger has for each ``fault-…`` key."""
    db = await asyncpg.connect(dsn)
    try:
        rows = await db.fetch(
            "select idempotency_key, count(distinct hold_id) as holds from ledger_entries"
            " where kind = 'hold' and idempotency_key like $1 group by idempotency_key",
            HOLD_KEY_PREFIX + "%",
        )
    finally:
        await db.close()
    return {row["idempotency_key"]: row["holds"] for row in rows}


def assert_no_hold_lost_or_doubled(load: Load, held: dict[str, int]) -> int:
    """Every acknowledged (201) hold key is in the ledger once, no key twice; the count."""
    acknowledged = {o.idempotency_key for o in load.outcomes if o.status == 201}
    assert acknowledged, "no hold was acknowledged"
    assert all(held.get(key) == 1 for key in acknowledged), [
        key for key in acknowledged if held.get(key) != 1
    ]
    assert all(count == 1 for count in held.values()), held
    return len(acknowledged)


def assert_ledger_verified(env: dict[str, str]) -> None:
    verify = run_cpa("ledger", "verify", env=env)
    assert verify.returncode == 0, (verify.stdout + verify.stderr).decode()[-2000:]
