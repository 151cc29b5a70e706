"""Log lines reach a file as they happen, in order, whatever standard error is.

Only the loop that serves requests buffers its lines (up to 0.2 s); a line logged inside a
loop that only runs a command (``asyncio.run`` of the migrations, the demo loader) used to
wait for a flush scheduled on that loop, which had ended: the line stayed pending until the
next line outside a loop, or the exit, and every later loop of the process never flushed.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from cpa.log import FLUSH_INTERVAL_S, BufferedBytesLogger
from tests.support.processes import (
    PROJECT,
    SERVER_STOP_TIMEOUT_S,
    cpa_env,
    free_port,
    wait_ready,
)

CREDENTIALS_BANNER = b"Demo data loaded. Credentials"
DEMO_WAIT_S = 60.0


def _events(text: bytes) -> list[str]:
    """The structlog events of a log, in order (other lines skipped)."""
    events = []
    for line in text.splitlines():
        if line.startswith(b"{"):
            events.append(msgspec.json.decode(line).get("event", ""))
    return events


def test_a_line_logged_in_a_loop_that_ended_is_already_written() -> None:
    stream = io.BytesIO()
    logger = BufferedBytesLogger(stream)

    async def command(n: int) -> None:
        logger.info(b"line %d" % n)

    asyncio.run(command(1))
    assert stream.getvalue() == b"line 1\n"
    asyncio.run(command(2))  # a second loop of the same process: no flush left stranded
    assert stream.getvalue() == b"line 1\nline 2\n"


def test_the_serving_loop_buffers_and_flushes_within_its_interval() -> None:
    stream = io.BytesIO()
    logger = BufferedBytesLogger(stream)

    async def serve() -> bytes:
        logger.msg_request(b"request")
        logger.info(b"during a request")
        held = stream.getvalue()
        await asyncio.sleep(FLUSH_INTERVAL_S * 2)
        return held

    assert asyncio.run(serve()) == b""
    assert stream.getvalue() == b"request\nduring a request\n"


@pytest.mark.slow
def test_migrate_logs_its_migrations_before_its_result(empty_dsn: str, tmp_path: Path) -> None:
    log_path = tmp_path / "migrate.log"
    env = cpa_env(database_url=empty_dsn, data_dir=str(tmp_path))
    with log_path.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "cpa", "migrate"],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0
    text = log_path.read_bytes()
    assert text.index(b'"migration_applied"') < text.index(b'"applied"'), text.decode()


def _wait_for(path: Path, marker: bytes, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_bytes()
        if marker in text:
            return text
        time.sleep(0.1)
    raise TimeoutError(f"{marker!r} not in {path} after {timeout_s} s")


@pytest.mark.slow
def test_serve_writes_its_startup_lines_while_running(empty_dsn: str, tmp_path: Path) -> None:
    port = free_port()
    env = cpa_env(database_url=empty_dsn, port=str(port), data_dir=str(tmp_path))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cpa", "serve"],  # with the demo loader
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        text = _wait_for(log_path, CREDENTIALS_BANNER, DEMO_WAIT_S)
        assert server.poll() is None, "still running"
        events = _events(text)
        migrations = [i for i, event in enumerate(events) if event == "migration_applied"]
        assert migrations, text.decode()
        assert migrations[-1] < events.index("http_limits_set")
        # The demo loader logs, then prints the credentials: in that order in the file.
        assert text.index(b'"demo_loaded"') < text.index(CREDENTIALS_BANNER), text.decode()
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(SERVER_STOP_TIMEOUT_S) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
