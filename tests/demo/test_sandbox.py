"""The sandbox a newcomer starts with: the demo clients follow the server's port, readiness
waits for the demo set, and the credentials can be shown again."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from cpa.demo import DEMO_PERSONS, loading_marker
from cpa.demo.app import create_demo_app
from tests.auth import support
from tests.support.processes import PROJECT, cpa_env, free_port, run_cpa

MARKER_GONE_TIMEOUT_S = 15.0


@pytest.fixture
async def demo_client(
    db: asyncpg.Connection, tmp_path: Path, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """The demo app on the test's transaction, with a data directory of its own."""
    own = msgspec.structs.replace(settings, data_dir=tmp_path, nir_key_file=settings.nir_key_path)
    app = create_demo_app(own, database=ConnectionDatabase(db))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cpa.test") as http:
        yield http, own


async def test_ready_only_once_the_demo_set_is_loaded(
    demo_client: tuple[httpx.AsyncClient, Settings],
) -> None:
    """While the loading marker is there, /health/ready is a 503 problem; then 200."""
    http, settings = demo_client
    loading_marker(settings).write_text("1\n")
    unready = await http.get("/health/ready")
    assert unready.status_code == 503
    assert unready.headers["content-type"].startswith("application/problem+json")
    assert unready.json()["type"] == "urn:cpa:problem:not-ready"
    assert "demo" in unready.json()["detail"]
    loading_marker(settings).unlink()
    assert (await http.get("/health/ready")).status_code == 200


async def test_the_demo_page_is_served_by_the_demo_app_only(
    demo_client: tuple[httpx.AsyncClient, Settings], client: httpx.AsyncClient
) -> None:
    http, _ = demo_client
    page = await http.get("/demo/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert '<html lang="fr">' in page.text and "<script" not in page.text
    assert (await client.get("/demo/")).status_code == 404


async def test_start_keeps_state_and_verifier_in_a_cookie_for_demo(
    demo_client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = demo_client
    start = await http.get("/demo/start")
    assert start.status_code == 303
    location = start.headers["location"]
    assert location.startswith(settings.issuer + "/oauth/authorize?")
    query = support.query_of(location.split("/oauth/authorize", 1)[1])
    assert query["client_id"] == "demo-portal"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == settings.issuer + "/demo/callback"
    cookie = start.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "path=/demo"):
        assert attribute in cookie
    forged = await http.get("/demo/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 400 and 'role="alert"' in forged.text


def test_watchdog_removes_the_marker_when_the_loader_crashes(tmp_path: Path) -> None:
    """A loader that dies leaves no service unready for good: the watchdog reaping it removes
    the marker."""
    marker = tmp_path / "demo-loading"
    marker.write_text("1\n")
    crash = [sys.executable, "-c", "raise SystemExit(3)"]
    argv = [sys.executable, "-m", "cpa.db.watchdog", "--parent", str(os.getpid())]
    watchdog = subprocess.Popen(
        [*argv, "--ready-marker", str(marker), "--", *crash],
        cwd=PROJECT,
        env=cpa_env(data_dir=str(tmp_path)),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + MARKER_GONE_TIMEOUT_S
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not marker.exists()
    finally:
        watchdog.terminate()
        _, stderr = watchdog.communicate(timeout=30)
    assert b"demo_load_failed" in stderr


async def _redirect_uris(dsn: str) -> dict[str, list[str]]:
    db = await asyncpg.connect(dsn)
    try:
        rows = await db.fetch("select id, redirect_uris from oauth_clients")
    finally:
        await db.close()
    return {row["id"]: list(row["redirect_uris"]) for row in rows}


async def _other_client(dsn: str) -> str:
    db = await asyncpg.connect(dsn)
    try:
        return str((await support.client(db, "portal"))["client_id"])
    finally:
        await db.close()


@pytest.mark.slow
def test_demo_clients_follow_the_port_and_credentials_show_again(
    fresh_dsn: str, tmp_path: Path
) -> None:
    first, second = free_port(), free_port()
    env = cpa_env(database_url=fresh_dsn, data_dir=str(tmp_path), port=str(first))
    before = run_cpa("demo", "--credentials", env=env)
    assert before.returncode == 0, before.stderr
    shown = json.loads(before.stdout)
    assert shown["in_database"] is False
    assert {p["nir"] for p in shown["credentials"]["persons"]} == {p.nir for p in DEMO_PERSONS}
    assert run_cpa("demo", env=env).returncode == 0
    other = asyncio.run(_other_client(fresh_dsn))
    uris = asyncio.run(_redirect_uris(fresh_dsn))
    assert uris["demo-portal"] == [f"http://127.0.0.1:{first}/demo/callback"]
    after = json.loads(run_cpa("demo", "--credentials", env=env).stdout)
    assert after["in_database"] is True
    assert after["credentials"]["demo_page"] == f"http://127.0.0.1:{first}/demo/"
    moved = run_cpa("demo", env={**env, "CPA_PORT": str(second)})
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["loaded"] is False  # already there: only re-pointed
    uris_after = asyncio.run(_redirect_uris(fresh_dsn))
    for client_id in ("demo-portal", "demo-training-body", "demo-training-body-2"):
        assert uris_after[client_id] == [f"http://127.0.0.1:{second}/demo/callback"]
    assert uris_after["demo-operator"] == []
    assert uris_after[other] == uris[other] == [support.REDIRECT_URI]
