"""A stranger guessing with a partner's public client id, against a real ``cpa serve``
(issue 10, defect 4): the wrong-secret requests are counted against the stranger's address,
so the partner's token request and API call are still served, never 429."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from cpa.auth.clients import NewClient, register_client
from cpa.auth.settings import AuthSettings
from cpa.db.pool import _init_connection
from tests.support.processes import serving

PARTNER_LIMIT_PER_MINUTE = 5
STRANGER_ADDRESS = "127.0.0.2"
"""Linux routes all of 127/8 to loopback: the stranger connects from another address than
the partner (127.0.0.1), as it would from the internet."""
FAILURES_PER_ADDRESS = AuthSettings().client_auth_failures_per_address
REQUEST_TIMEOUT_S = 10.0


async def _register_partner(dsn: str) -> dict[str, str]:
    db = await asyncpg.connect(dsn)
    try:
        await _init_connection(db)
        return await register_client(  # type: ignore[return-value]
            db,
            NewClient(
                name="partner", kind="advisor_tool", rate_limit_per_minute=PARTNER_LIMIT_PER_MINUTE
            ),
        )
    finally:
        await db.close()


async def _partner_is_served(http: httpx.AsyncClient, creds: dict[str, str]) -> None:
    token = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    assert token.status_code == 200, token.text
    api = await http.get(
        "/v1/advisor/persons/unknown-ref",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert api.status_code == 404, api.text  # past the guard and its rate limit: no such ref


async def test_wrong_secrets_with_a_partners_id_never_spend_its_quota(
    fresh_dsn: str, tmp_path: Path
) -> None:
    creds = await _register_partner(fresh_dsn)
    with serving(fresh_dsn, tmp_path) as base_url:
        stranger_transport = httpx.AsyncHTTPTransport(local_address=STRANGER_ADDRESS)
        async with (
            httpx.AsyncClient(
                base_url=base_url, transport=stranger_transport, timeout=REQUEST_TIMEOUT_S
            ) as stranger,
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as partner,
        ):
            statuses = []
            for _ in range(FAILURES_PER_ADDRESS + PARTNER_LIMIT_PER_MINUTE):
                wrong = await stranger.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(creds["client_id"], "wrong"),
                )
                statuses.append(wrong.status_code)
            await _partner_is_served(partner, creds)  # before the fix: 429 on both requests
            await _partner_is_served(partner, creds)
    # Four times the partner's limit of 401s, then the stranger alone is throttled.
    assert statuses == [401] * FAILURES_PER_ADDRESS + [429] * PARTNER_LIMIT_PER_MINUTE
