"""The HTTP server process of ``python -m cpa serve``: granian, set up to stay up.

What granian 2.8 does by default, and what we do instead:

- A worker that dies stops the whole server (``respawn_failed_workers=False``), and with
  respawning on, a worker that dies again within 5.5 s of its respawn is a "crash loop" that
  stops it too. Here a crashed worker is replaced while the others keep serving; one that dies
  again soon after its respawn is replaced after a delay that doubles up to
  ``RESPAWN_DELAY_MAX_S``: a cause that passes (the database restarting) never takes the
  service down, and one that does not pass never becomes a busy loop.
- On Linux each worker binds its own ``SO_REUSEPORT`` socket: the connections the kernel has
  queued to a worker that dies are reset (unless ``net.ipv4.tcp_migrate_req=1``). Here the
  server binds one listening socket that every worker inherits, as granian does on other
  systems: its accept queue outlives any worker, so a crash loses only the connections that
  worker had accepted.
- HTTP/1.1 only: hyper's automatic HTTP/1-or-2 detection waits for the first bytes without a
  timeout, so a socket that never sends anything held a connection slot forever. HTTP/1's
  header-read timeout bounds the wait for a request head, the first one and each next one on a
  kept-alive connection. HTTP/2 is for the reverse proxy in front (README).
- Connection slots per worker (granian's backpressure, default backlog / workers = 512) and the
  listen backlog are our settings, and the process's open-files soft limit is raised to its hard
  limit first, so that the slots are not bounded by a default of 1,024 descriptors.
"""

from __future__ import annotations

import errno
import resource
import socket
import time
from typing import Any

import structlog
from granian._granian import SocketHolder
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server import MPServer

from cpa.config import Settings
from cpa.errors import CpaError

log = structlog.get_logger(__name__)

WORKER_STOP_TIMEOUT_S = 15
"""Longer than a worker needs to answer its last requests and write its read journal."""
QUICK_CRASH_S = 10.0
"""A worker that dies within this time of its start is crashing again: its respawn waits."""
RESPAWN_DELAY_FIRST_S = 1.0
RESPAWN_DELAY_MAX_S = 30.0
"""Bounds of the wait before respawning a worker that keeps crashing (doubling in between)."""
SLEEP_SLICE_S = 0.1
"""How often a respawn delay looks for Ctrl-C / SIGTERM."""
FILES_RESERVED_PER_WORKER = 256
"""Descriptors a worker keeps beside its connections: database pool, logs, pipes, libraries."""
NOFILE_WHEN_UNLIMITED = 1_048_576


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit (inherited by the workers); the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE_WHEN_UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return target if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def connections_per_worker(settings: Settings, open_files: int) -> int:
    """The configured slots, never more than the descriptors a worker can open."""
    return max(1, min(settings.http_connections_per_worker_max,
                      open_files - FILES_RESERVED_PER_WORKER))  # fmt: skip


class PortInUse(CpaError, slug="http-port-taken", status=409):
    """Another server listens on this address and port."""


def listening_socket(address: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on ``address:port`` that workers inherit; ``SO_REUSEADDR`` only
    (a restart rebinds at once), never ``SO_REUSEPORT`` (one server per port)."""
    family, kind, proto, _, where = socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    shared = socket.socket(family, kind, proto)
    try:
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        shared.bind(where)
        shared.listen(backlog)
    except OSError as error:
        shared.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"{address}:{port} is taken by another server: stop it, or set "
                            "CPA_PORT to a free port") from None  # fmt: skip
        raise
    shared.set_inheritable(True)
    return shared


class StayingUpServer(MPServer):
    """granian's multi-process server with our worker respawn and one shared listening socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quick_crashes: dict[int, int] = {}

    def _init_shared_socket(self) -> None:
        # granian's own non-Linux path: one socket, bound here, inherited by every worker. Bound
        # by us rather than granian's ListenerSpec, which sets SO_REUSEPORT: with it a second
        # server started on the same port (another checkout, `make run` twice, a test's
        # "free" port taken meanwhile) binds too, silently, and the kernel splits the
        # connections between the two. Without it, the second one is refused (port in use).
        shared = listening_socket(self.bind_addr, self.bind_port, self.backlog)
        self._ssp = None
        self._shd = SocketHolder(shared.fileno(), False, self.backlog)  # type: ignore[assignment,call-arg]
        self._sfd = shared.fileno()  # type: ignore[assignment]
        self._sso = shared

    def _serve_loop(self, spawn_target: Any, target_loader: Any) -> None:
        while True:
            self.main_loop_interrupt.wait()
            if self.interrupt_signal:
                break
            self.main_loop_interrupt.clear()
            if self.reload_signal:
                self._reload(spawn_target, target_loader)  # type: ignore[no-untyped-call]
            while self.interrupt_children and not self.interrupt_signal:
                self._replace(self.interrupt_children.pop(0), spawn_target, target_loader)
            if self.interrupt_signal:
                break
        # Whatever exits from now on was asked to (Ctrl-C reaches the workers too).
        for worker in self.wrks:
            worker.interrupt_by_parent = True
        self.interrupt_children.clear()

    def _replace(self, idx: int, spawn_target: Any, target_loader: Any) -> None:
        dead = self.wrks[idx]
        lived_s = time.monotonic() - dead.birth
        quick = self._quick_crashes.get(idx, 0) + 1 if lived_s < QUICK_CRASH_S else 0
        self._quick_crashes[idx] = quick
        delay_s = 0.0 if quick == 0 else min(
            RESPAWN_DELAY_MAX_S, RESPAWN_DELAY_FIRST_S * 2 ** (quick - 1)
        )  # fmt: skip
        log.error(
            "worker_crashed",
            worker=idx + 1,
            pid=dead.inner.pid,
            exit_code=dead.inner.exitcode,
            lived_s=round(lived_s, 1),
            respawn_in_s=delay_s,
        )
        if not self._sleep_unless_stopped(delay_s):
            return
        self._respawn_workers([idx], spawn_target, target_loader)
        log.info("worker_respawned", worker=idx + 1, pid=self.wrks[idx].inner.pid)

    def _sleep_unless_stopped(self, delay_s: float) -> bool:
        """Wait ``delay_s``; False when a stop was asked meanwhile."""
        deadline = time.monotonic() + delay_s
        while not self.interrupt_signal and time.monotonic() < deadline:
            time.sleep(max(0.0, min(SLEEP_SLICE_S, deadline - time.monotonic())))
        return not self.interrupt_signal


APP_FACTORY = "cpa.app:create_app"


def build_server(settings: Settings, app_factory: str = APP_FACTORY) -> StayingUpServer:
    """The server of ``settings``, its workers running ``app_factory`` (``module:function``;
    only the bench harness gives another: tests/bench/serve.py)."""
    open_files = raise_open_files_limit()
    slots = connections_per_worker(settings, open_files)
    log.info(
        "http_limits_set",
        connections_per_worker=slots,
        backlog=settings.http_backlog,
        header_read_timeout_ms=settings.http_header_read_timeout_ms,
        open_files=open_files,
    )
    return StayingUpServer(
        app_factory,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=settings.http_header_read_timeout_ms),
        backlog=settings.http_backlog,
        backpressure=slots,
        # A worker that does not stop within this time is killed, so that Ctrl-C always
        # ends with the embedded database stopped: seen once in `make bench`, a worker
        # given SIGINT while still starting hung in granian 2.8.7's signal handler.
        workers_kill_timeout=WORKER_STOP_TIMEOUT_S,
    )
