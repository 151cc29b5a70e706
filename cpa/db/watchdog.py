"""A small process beside ``python -m cpa serve``: it restarts the embedded PostgreSQL when it
dies, and runs the demo loader, reaping it as soon as it ends.

A process, not a thread of the server: granian forks its workers from the server process, and
a fork taken while another thread holds a lock (logging's, the import lock) can leave a worker
hung. The server starts it before the workers, stops it before it stops PostgreSQL (so that a
stop is never taken for a crash), and it ends by itself when the server dies.

``python -m cpa.db.watchdog --parent PID [--pgdata DIR --pg-port N --pg-cache DIR]
[--ready-marker FILE] [-- COMMAND…]``: without ``--pgdata`` it watches no database
(``CPA_DATABASE_URL`` given: a server we did not start is never restarted); the command after
``--`` is run once, and ``--ready-marker`` (the file that keeps the service unready while the
demo loads) is removed when it ends, however it ends: a crashed loader never leaves the
service unready for good.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import structlog

from cpa.config import get_settings
from cpa.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from cpa.log import configure_logging

log = structlog.get_logger(__name__)

TICK_S = 0.5
"""How often the postmaster and the parent are looked at: PostgreSQL back within ~1 s + start."""
RESTART_DELAY_FIRST_S = 1.0
RESTART_DELAY_MAX_S = 30.0
"""Bounds of the wait between failed restarts (doubling in between): never a busy loop."""
ERROR_CHARS_MAX = 500
CHILD_FINISH_TIMEOUT_S = 30.0
UNREAPED_WARNING_S = 10.0
"""A dead postmaster still unreaped after this long is logged (once per outage)."""
UNREAPED_HINT = "run the server under an init that reaps orphans (docker run --init)"


RUNNING, UNREAPED, GONE = "running", "unreaped", "gone"


def postmaster_state(data_dir: Path) -> str:
    """Whether the process named by ``data_dir``'s pid file runs, is dead but not yet reaped
    by its parent (a zombie: ``kill(pid, 0)`` and so ``pg_ctl`` still take it for a live one,
    and a new postmaster refuses its lock file), or is gone. Cheaper than ``pg_ctl status``
    twice a second."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return GONE
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return GONE
    except OSError:  # no /proc here: the signal probe is all there is
        return RUNNING if _signal_probe(pid) else GONE
    return UNREAPED if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X") else RUNNING


def _signal_probe(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Watchdog:
    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        self.pg: EmbeddedPostgres | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.ready_marker: Path | None = None
        self.stopping = False
        self.down_since: float | None = None
        self.failures = 0
        self.next_attempt = 0.0
        self.unreaped_warned = False

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def start(self, command: list[str]) -> None:
        if command and not self.stopping:
            self.child = subprocess.Popen(command, stdout=subprocess.DEVNULL)

    def run(self) -> None:
        while not self.stopping and os.getppid() == self.parent_pid:
            self._reap()
            if self.pg is not None:
                self._watch(self.pg)
            time.sleep(TICK_S)
        self._end_child()

    def _end_child(self) -> None:
        """A loader still running when the server stops finishes before its database stops (a
        half-loaded demo set would never be completed: it loads into an empty database only);
        killed if it takes longer than it ever should."""
        if self.child is not None:
            try:
                self.child.wait(CHILD_FINISH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self._reap()

    def _reap(self) -> None:
        if self.child is not None and self.child.poll() is not None:
            if self.child.returncode != 0:
                log.warning("demo_load_failed", exit_code=self.child.returncode)
            self.child = None
            if self.ready_marker is not None:
                self.ready_marker.unlink(missing_ok=True)

    def _watch(self, pg: EmbeddedPostgres) -> None:
        state = postmaster_state(pg.data_dir)
        if state == RUNNING:
            return
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            log.error("postgres_exited", data_dir=str(pg.data_dir), port=pg.port)
        if state == UNREAPED:
            self._unreaped(now - self.down_since)
            return
        if now < self.next_attempt:
            return
        try:
            pg.ensure_running()
        except (EmbeddedPostgresError, OSError) as error:
            self._failed(error)
            return
        log.info(
            "postgres_restarted",
            data_dir=str(pg.data_dir),
            down_s=round(time.monotonic() - self.down_since, 1),
            attempts=self.failures + 1,
        )
        self.down_since, self.failures, self.next_attempt = None, 0, 0.0
        self.unreaped_warned = False

    def _unreaped(self, down_s: float) -> None:
        """Its parent (init, once ``pg_ctl`` has exited) reaps a dead postmaster within a second
        or so; under an init that never reaps orphans (a container's PID 1 that is not an init)
        it stays a zombie and no new one can start: said once, then waited for."""
        if down_s >= UNREAPED_WARNING_S and not self.unreaped_warned:
            self.unreaped_warned = True
            log.error("postgres_unreaped", down_s=round(down_s, 1), hint=UNREAPED_HINT)

    def _failed(self, error: Exception) -> None:
        self.failures += 1
        delay_s = min(RESTART_DELAY_MAX_S, RESTART_DELAY_FIRST_S * 2 ** (self.failures - 1))
        self.next_attempt = time.monotonic() + delay_s
        log.error(
            "postgres_restart_failed",
            attempts=self.failures,
            retry_in_s=delay_s,
            error=str(error)[-ERROR_CHARS_MAX:],
        )


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cpa.db.watchdog", description=__doc__)
    parser.add_argument("--parent", type=int, required=True, help="end when this process ends")
    parser.add_argument("--pgdata", type=Path, help="data directory of the PostgreSQL to keep up")
    parser.add_argument("--pg-port", type=int)
    parser.add_argument("--pg-cache", type=Path, help="binaries cache of the embedded server")
    parser.add_argument("--ready-marker", type=Path, help="removed when the command ends")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- a command to run once")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    watchdog = Watchdog(args.parent)
    # Ctrl-C reaches the whole process group: we stop as asked, the server stops PostgreSQL.
    signal.signal(signal.SIGTERM, watchdog.stop)
    signal.signal(signal.SIGINT, watchdog.stop)
    configure_logging(get_settings().log_format, stream=sys.stderr)
    if args.pgdata is not None:
        watchdog.pg = EmbeddedPostgres(args.pgdata, args.pg_port, cache_dir=args.pg_cache)
    watchdog.ready_marker = args.ready_marker
    watchdog.start(args.command[1:] if args.command[:1] == ["--"] else args.command)
    watchdog.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
