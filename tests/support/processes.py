"""Running `python -m cpa …` as a real process, the way a user or an operator does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpa_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPA_")}
    env.update({f"CPA_{k.upper()}": v for k, v in values.items()})
    env["CPA_LOG_FORMAT"] = "json"
    return env


def run_cpa(
    *args: str, env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cpa", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=PROJECT,
        timeout=120,
        check=False,
    )


def start_server(
    env: dict[str, str], log_path: Path, *, demo: bool = True
) -> subprocess.Popen[bytes]:
    """``python -m cpa serve``, as ``make run`` starts it (with the demo data set: ready once
    it is loaded, ~0.8 s of CPU more), or with ``--no-demo`` for a test that brings its own."""
    log_file = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cpa", "serve", *(() if demo else ("--no-demo",))],
        env=env,
        cwd=PROJECT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: we can signal it whole
    )


def wait_ready(base_url: str, timeout_s: float = 60.0) -> float:
    """Seconds until /health/ready answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base_url} not ready after {timeout_s} s")


SERVER_STOP_TIMEOUT_S = 30


@contextmanager
def serving(database_url: str, data_dir: Path, workers: int = 1) -> Iterator[str]:
    """A real ``python -m cpa serve --no-demo`` on ``database_url``, ready: its base URL.
    Leaving the block stops it with Ctrl-C (SIGINT) and requires a clean exit; on an error it
    is killed."""
    port = free_port()
    env = cpa_env(
        database_url=database_url, port=str(port), data_dir=str(data_dir), workers=str(workers)
    )
    server = start_server(env, data_dir / "serve.log", demo=False)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url)
        yield base_url
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(SERVER_STOP_TIMEOUT_S) == 0, "a clean stop exits 0"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
