"""Partner access: client-credentials tokens and a guarded /v1/me read (issue 4).

Setup registers its own clients (rate limit out of the way) and a person, and gets a person
token through the real login and consent form of the running server.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from cpa.auth.clients import NewClient, register_client
from cpa.db.pool import _init_connection
from cpa.persons import NirVault
from tests.auth import support
from tests.bench.harness import BenchContext, Scenario

PROJECT = Path(__file__).resolve().parents[2]
UNLIMITED_PER_MINUTE = 100_000_000


async def _setup(ctx: BenchContext) -> dict[str, Any]:
    vault = NirVault.from_key_file(PROJECT / ".cpa" / "bench" / "nir.key")
    db = await asyncpg.connect(ctx.dsn)
    await _init_connection(db)
    try:
        tool = await register_client(
            db,
            NewClient(
                name="bench tool", kind="advisor_tool", rate_limit_per_minute=UNLIMITED_PER_MINUTE
            ),
        )
        portal = await register_client(
            db,
            NewClient(
                name="bench portal",
                kind="portal",
                redirect_uris=[support.REDIRECT_URI],
                rate_limit_per_minute=UNLIMITED_PER_MINUTE,
            ),
        )
        _, nir_value = await support.person(db, vault, "1790775999888")
    finally:
        await db.close()
    verifier, challenge = support.pkce()
    async with httpx.AsyncClient(base_url=ctx.base_url) as http:
        back = await support.login_and_consent(
            http, support.authorize_url(portal["client_id"], challenge), nir_value
        )
        code = support.query_of(back.headers["location"])["code"]
        token = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": support.REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(portal["client_id"], portal["client_secret"]),
        )
    access_token = token.json()["access_token"]
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    twin_query = urlencode(
        {"consent_id": claims["consent_id"], "sub": claims["sub"], "client_id": claims["client_id"]}
    )
    return {"tool": tool, "access_token": access_token, "twin_query": twin_query}


def scenarios(ctx: BenchContext) -> list[Scenario]:
    state = asyncio.run(_setup(ctx))
    tool = state["tool"]
    basic = base64.b64encode(f"{tool['client_id']}:{tool['client_secret']}".encode()).decode()
    return [
        Scenario(
            "oauth_token_client_creds",
            "/oauth/token",
            method="POST",
            body=b"grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            baseline="health_ready",
            target=">= 1,500 tokens/s",
        ),
        Scenario(
            "me_unguarded_twin",
            f"/bench/me?{state['twin_query']}",
            baseline="health_ready",
            target="the /v1/me handler without the guard",
        ),
        Scenario(
            "me_guarded",
            "/v1/me",
            headers={"Authorization": f"Bearer {state['access_token']}"},
            baseline="me_unguarded_twin",
            target=">= 0.90 x the unguarded twin",
        ),
    ]
