"""Idle sockets from one address (connect, send nothing) must not deny service: a new client
is answered while 2,000 of them are held, and the server closes each after the header-read
timeout, as it closes a kept-alive connection that sends no next request."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.faults.support import fault_server, raise_open_files_limit

IDLE_SOCKETS = 2_000
HEADER_READ_TIMEOUT_MS = 5_000
ANSWER_WITHIN_S = 2.0
"""A new client's GET /health/live, all idle sockets held (measured: ~10 ms)."""
CLOSE_MARGIN_S = 3.0
"""After the header-read timeout, by when every idle socket is closed by the server."""


def _still_open(sock: socket.socket) -> bool:
    """Not closed by the server (what it sent before closing is read past)."""
    try:
        while sock.recv(4096, socket.MSG_DONTWAIT):
            pass
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def test_idle_sockets_from_one_address_do_not_stop_a_new_client(
    fresh_dsn: str, tmp_path: Path
) -> None:
    raise_open_files_limit(IDLE_SOCKETS + 1_000)
    settings = {"http_header_read_timeout_ms": str(HEADER_READ_TIMEOUT_MS)}
    with fault_server(tmp_path, database_url=fresh_dsn, workers="2", **settings) as server:
        url = urlsplit(server.base_url)
        address = (url.hostname or "127.0.0.1", url.port or 80)
        idle: list[socket.socket] = []
        try:
            opened = time.monotonic()
            for _ in range(IDLE_SOCKETS):
                idle.append(socket.create_connection(address, timeout=5))
            kept_alive = socket.create_connection(address, timeout=5)
            idle.append(kept_alive)
            kept_alive.sendall(b"GET /health/live HTTP/1.1\r\nHost: cpa\r\n\r\n")
            assert kept_alive.recv(64).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            answer = httpx.get(f"{server.base_url}/health/live", timeout=ANSWER_WITHIN_S)
            answered_ms = (time.monotonic() - started) * 1000
            print(
                f"\n{IDLE_SOCKETS} idle sockets opened in {started - opened:.2f} s;",
                f"a new client answered {answer.status_code} in {answered_ms:.0f} ms",
            )
            assert answer.status_code == 200
            closing_by = opened + HEADER_READ_TIMEOUT_MS / 1000 + CLOSE_MARGIN_S
            time.sleep(max(0.0, closing_by - time.monotonic()))
            assert sum(_still_open(sock) for sock in idle) == 0
        finally:
            for sock in idle:
                sock.close()
