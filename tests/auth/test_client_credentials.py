"""Client credentials with Authlib's httpx client: secret (Basic) and private_key_jwt."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey
from litestar import Litestar

from cpa.app import create_app
from cpa.auth.clients import NewClient, disable_client, register_client
from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from tests.auth import support


async def test_advisor_tool_gets_an_es256_at_jwt(app: Litestar, db: asyncpg.Connection) -> None:
    creds = await support.client(db, "advisor_tool")
    async with support.oauth(app, creds) as oauth:
        token = await oauth.fetch_token("/oauth/token", grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 300
    assert "refresh_token" not in token
    header = jwt.decode(token["access_token"], app.state.auth.keys.verification).header
    claims = jwt.decode(token["access_token"], app.state.auth.keys.verification).claims
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    assert claims["iss"] == support.ISSUER and claims["aud"] == support.ISSUER + "/v1"
    assert claims["sub"] == creds["client_id"] == claims["client_id"]
    assert claims["scope"] == "advisor:read"
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]


async def test_wrong_secret_is_invalid_client(app: Litestar, db: asyncpg.Connection) -> None:
    creds = await support.client(db, "operator")
    async with support.oauth(app, {**creds, "client_secret": "wrong"}) as oauth:
        response = await oauth.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], "wrong"),
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_private_key_jwt_client(app: Litestar, db: asyncpg.Connection) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    creds = await register_client(
        db, NewClient(name="op", kind="operator", jwks={"keys": [key.as_dict(private=False)]})
    )
    assert "client_secret" not in creds
    async with support.oauth(
        app,
        {"client_id": creds["client_id"], "client_secret": key},
        token_endpoint_auth_method=PrivateKeyJWT(support.ISSUER + "/oauth/token", alg="ES256"),
    ) as oauth:
        token = await oauth.fetch_token(
            support.ISSUER + "/oauth/token", grant_type="client_credentials"
        )
    assert token["scope"] == "declarations:write dossiers:finance"  # all its machine scopes


class _CountingDatabase(ConnectionDatabase):
    acquired = 0

    def acquire(self) -> Any:
        self.acquired += 1
        return super().acquire()


async def _token(http: httpx.AsyncClient, creds: dict[str, Any]) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )


async def test_a_warm_token_request_costs_no_round_trip(
    db: asyncpg.Connection, settings: Settings
) -> None:
    """The client row, keys and revocations are cached: no connection is even acquired."""
    database = _CountingDatabase(db)
    app = create_app(settings, database=database)
    creds = await support.client(db, "advisor_tool")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=support.ISSUER
    ) as http:
        assert (await _token(http, creds)).status_code == 200
        before = database.acquired
        for _ in range(3):
            assert (await _token(http, creds)).status_code == 200
    assert database.acquired == before


async def test_a_disabled_client_gets_no_more_tokens(
    db: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disabling reaches the cached client row at the next poll of the disabled feed."""
    monkeypatch.setenv("CPA_AUTH_REVOCATION_POLL_MS", "1")
    app = create_app(settings, database=ConnectionDatabase(db))
    creds = await support.client(db, "advisor_tool")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=support.ISSUER
    ) as http:
        assert (await _token(http, creds)).status_code == 200
        assert app.state.auth.known_client(creds["client_id"]) is not None
        await disable_client(db, creds["client_id"])
        await asyncio.sleep(0.002)
        refused = await _token(http, creds)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
