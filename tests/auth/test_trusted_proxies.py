"""Behind a reverse proxy (``CPA_TRUSTED_PROXIES``), the limits per address count the caller
the proxy names in ``X-Forwarded-For``, and believe that header only from the proxy."""

from __future__ import annotations

import asyncpg
import httpx
import msgspec
from litestar import Litestar

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from tests.auth import support

PROXY = ("10.0.0.5", 40000)
STRANGER = ("203.0.113.7", 40000)


def _behind_proxy(db: asyncpg.Connection, settings: Settings) -> Litestar:
    trusting = msgspec.structs.replace(settings, trusted_proxies="10.0.0.0/24")
    return create_app(trusting, database=ConnectionDatabase(db))


async def _wrong_secret(http: httpx.AsyncClient, client_id: str, forwarded: str) -> int:
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, "wrong"),
        headers={"X-Forwarded-For": forwarded},
    )
    return answer.status_code


async def test_the_proxy_names_the_caller(db: asyncpg.Connection, settings: Settings) -> None:
    """Through the proxy, one caller's failures throttle that caller only, not the others the
    proxy forwards (before: every caller was the proxy's one address)."""
    app = _behind_proxy(db, settings)
    creds = await support.client(db, "advisor_tool")
    allowed = app.state.auth.settings.client_auth_failures_per_address
    async with support.from_address(app, PROXY) as proxy:
        statuses = [
            await _wrong_secret(proxy, creds["client_id"], "198.51.100.1") for _ in range(allowed)
        ]
        assert statuses == [401] * allowed
        assert await _wrong_secret(proxy, creds["client_id"], "198.51.100.1") == 429
        assert await _wrong_secret(proxy, creds["client_id"], "198.51.100.2") == 401


async def test_a_client_cannot_name_itself_another_address(
    db: asyncpg.Connection, settings: Settings
) -> None:
    """From a peer that is not a trusted proxy, ``X-Forwarded-For`` is ignored: a stranger
    changing it at each request is still throttled as one address."""
    app = _behind_proxy(db, settings)
    creds = await support.client(db, "advisor_tool")
    allowed = app.state.auth.settings.client_auth_failures_per_address
    async with support.from_address(app, STRANGER) as stranger:
        for index in range(allowed):
            assert await _wrong_secret(stranger, creds["client_id"], f"192.0.2.{index}") == 401
        assert await _wrong_secret(stranger, creds["client_id"], "192.0.2.250") == 429
