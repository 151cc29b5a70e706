"""`python -m cpa serve` as a real process: crash, restart, clean stop."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.processes import cpa_env, free_port, start_server, wait_ready

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CPA_DATABASE_URL")), reason="exercises the embedded server"
)


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_sigkill_then_restart_reuses_the_database_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """After a SIGKILL the next start adopts the running server; SIGINT leaves none behind."""
    data_dir = Path(tempfile.mkdtemp(prefix="cpa-lifecycle-"))
    os.chmod(data_dir, 0o755)
    port = free_port()
    env = cpa_env(data_dir=str(data_dir), port=str(port), pg_port=str(free_port()))
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"

    first = start_server(env, log_path)
    try:
        wait_ready(base_url)
        postmaster = _postmaster_pid(data_dir)
        assert postmaster is not None
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert _alive(postmaster), "the database outlives a killed server"

        second = start_server(env, log_path)
        wait_ready(base_url)
        assert b"postgres_reused" in log_path.read_bytes()
        os.killpg(second.pid, signal.SIGINT)
        assert second.wait(30) == 0
        assert _gone(postmaster)
        assert _postmaster_pid(data_dir) is None
    finally:
        for process in (first,):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        pid = _postmaster_pid(data_dir)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGQUIT)
