"""Fairness of the client endpoints (issue 10, defect 4): a client id is public, so requests
that fail to authenticate as it count against their caller's address, never against it."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from tests.auth import support

STRANGER = ("203.0.113.7", 40000)
PARTNER = ("198.51.100.20", 40000)
PARTNER_LIMIT_PER_MINUTE = 5
ENDPOINTS = ("/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/par")


async def _token(http: httpx.AsyncClient, creds: dict[str, Any]) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )


async def _api(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get(
        "/v1/advisor/persons/unknown-ref", headers={"Authorization": f"Bearer {token}"}
    )


async def test_wrong_secrets_with_a_partners_id_never_spend_its_quota(
    app: Litestar, db: asyncpg.Connection
) -> None:
    """Ten times its per-minute limit of wrong-secret requests on every client endpoint, then
    the partner's own token request and API call are served (before: 429 on both)."""
    creds = await support.client(db, "advisor_tool", rate_limit_per_minute=PARTNER_LIMIT_PER_MINUTE)
    async with support.from_address(app, STRANGER) as stranger:
        for index in range(PARTNER_LIMIT_PER_MINUTE * 2):
            answer = await stranger.post(
                ENDPOINTS[index % len(ENDPOINTS)],
                data={"grant_type": "client_credentials", "token": "x"},
                auth=(creds["client_id"], "wrong"),
            )
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"] == "invalid_client"
            assert "ratelimit-limit" not in answer.headers  # the partner's quota is not told
    async with support.from_address(app, PARTNER) as partner:
        token = await _token(partner, creds)
        assert token.status_code == 200, token.text
        assert int(token.headers["ratelimit-remaining"]) == PARTNER_LIMIT_PER_MINUTE - 1
        assert (await _api(partner, token.json()["access_token"])).status_code == 404


async def test_an_address_failing_to_authenticate_is_throttled_alone(
    app: Litestar, db: asyncpg.Connection
) -> None:
    """Past ``client_auth_failures_per_address`` failures an address gets an RFC 6749 body
    with 429 and Retry-After, even with the right secret; the partner elsewhere does not."""
    creds = await support.client(db, "advisor_tool")
    allowed = app.state.auth.settings.client_auth_failures_per_address
    async with support.from_address(app, STRANGER) as stranger:
        for _ in range(allowed):
            wrong = await stranger.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(creds["client_id"], "wrong"),
            )
            assert wrong.status_code == 401
        throttled = await _token(stranger, creds)
        assert throttled.status_code == 429
        assert throttled.json()["error"] == "temporarily_unavailable"
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
    async with support.from_address(app, PARTNER) as partner:
        assert (await _token(partner, creds)).status_code == 200


async def test_a_clients_own_requests_count_against_it(
    app: Litestar, db: asyncpg.Connection
) -> None:
    """Authenticated requests spend the client's quota, shared with the API guard."""
    creds = await support.client(db, "advisor_tool", rate_limit_per_minute=PARTNER_LIMIT_PER_MINUTE)
    async with support.from_address(app, PARTNER) as partner:
        token = await _token(partner, creds)
        for _ in range(PARTNER_LIMIT_PER_MINUTE - 2):
            assert (await _api(partner, token.json()["access_token"])).status_code == 404
        assert (await _token(partner, creds)).status_code == 200
        over = await _token(partner, creds)
        assert over.status_code == 429 and "retry-after" in over.headers
        assert (await _api(partner, token.json()["access_token"])).status_code == 429


async def test_the_client_limiter_stays_bounded(app: Litestar) -> None:
    """100,000 distinct keys leave at most ``rate_limit_keys_max`` windows in memory."""
    limiter = app.state.auth.rate_limiter
    for index in range(100_000):
        limiter.hit(f"client-{index}", 60, now=1000.0)
    assert len(limiter) == app.state.auth.settings.rate_limit_keys_max
    assert limiter.hit("client-99999", 60, now=1000.0).remaining == 58  # the newest are kept
