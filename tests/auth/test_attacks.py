"""Attacks on the authorization server and the resource guard, each refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from cpa.app import create_app
from cpa.auth.guard import is_public
from cpa.config import Settings
from cpa.db.database import PoolDatabase
from cpa.db.pool import create_pool
from tests.auth import support
from tests.auth.test_code_flow import _tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(msgspec.json.encode(header)) + "." + _b64(msgspec.json.encode(claims))


async def _claims(
    app: Litestar, db: asyncpg.Connection, shift: dict[str, int] | None = None, **overrides: Any
) -> dict[str, Any]:
    creds = await support.client(db, "advisor_tool")
    await app.state.auth.keys.refresh(db)
    now = int(time.time())
    overrides.update({name: now + delta for name, delta in (shift or {}).items()})
    claims = {
        "iss": support.ISSUER,
        "aud": support.ISSUER + "/v1",
        "sub": creds["client_id"],
        "client_id": creds["client_id"],
        "scope": "advisor:read",
        "jti": f"jti-{now}-{id(overrides)}",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return claims


async def _status(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(
        "/v1/advisor/persons/anything", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


async def test_a_well_formed_token_passes_the_guard(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    """The control case: the same forging helper with our key gets past the guard (404 ref)."""
    token = app.state.auth.codec.encode(await _claims(app, db))
    assert await _status(http, token) == 404


async def test_alg_none_is_refused(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    token = _unsigned({"alg": "none", "typ": "at+jwt"}, await _claims(app, db)) + "."
    assert await _status(http, token) == 401


async def test_hs256_signed_with_the_public_key_is_refused(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    claims = await _claims(app, db)
    public = app.state.auth.keys.public_jwks["keys"][0]
    signing_input = _unsigned({"alg": "HS256", "typ": "at+jwt", "kid": public["kid"]}, claims)
    for secret in (
        msgspec.json.encode(public),
        app.state.auth.keys.signing_key.as_pem(private=False),
    ):
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await _status(http, signing_input + "." + _b64(signature)) == 401


@pytest.mark.parametrize(
    ("shift", "status"),
    [
        ({"exp": -5}, 404),  # within the 10 s skew
        ({"exp": -12}, 401),  # expired
        ({"nbf": 5}, 404),
        ({"nbf": 12}, 401),  # not yet valid
        ({"iat": 12}, 401),
    ],
)
async def test_time_claims_with_at_most_ten_seconds_of_skew(
    app: Litestar,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    shift: dict[str, int],
    status: int,
) -> None:
    claims = await _claims(app, db, shift)
    assert await _status(http, app.state.auth.codec.encode(claims)) == status


@pytest.mark.parametrize(
    "claim",
    [
        {"aud": "https://elsewhere.example/v1"},
        {"iss": "https://evil.example"},
        {"aud": support.ISSUER},
    ],
)
async def test_wrong_audience_or_issuer_is_refused(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient, claim: dict[str, str]
) -> None:
    token = app.state.auth.codec.encode(await _claims(app, db, **claim))
    assert await _status(http, token) == 401


async def test_a_token_not_typed_at_jwt_is_refused(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    from joserfc import jwt

    claims = await _claims(app, db)
    key = app.state.auth.keys.signing_key
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)
    assert await _status(http, token) == 401


async def test_missing_or_plain_pkce_is_refused(
    http: httpx.AsyncClient, portal: dict[str, Any]
) -> None:
    verifier, _ = support.pkce()
    for extra in (
        {"code_challenge": "", "code_challenge_method": ""},
        {"code_challenge": verifier, "code_challenge_method": "plain"},
    ):
        response = await http.get(
            support.authorize_url(portal["client_id"], **{"challenge": "x", **{}}).replace(
                "code_challenge=x", ""
            )
            + "&"
            + httpx.QueryParams(extra).__str__()
        )
        assert response.status_code == 303, response.text
        params = support.query_of(response.headers["location"])
        assert (
            params["error"] == "invalid_request"
            and params["state"] == "xyz"
            and params["iss"] == support.ISSUER
        )


async def test_token_request_without_verifier_is_refused(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    _, challenge = support.pkce()
    back = await support.login_and_consent(
        http, support.authorize_url(portal["client_id"], challenge), citizen[1]
    )
    code = support.query_of(back.headers["location"])["code"]
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": support.REDIRECT_URI,
        },
        auth=(portal["client_id"], portal["client_secret"]),
    )
    assert response.status_code == 400 and response.json()["error"] in (
        "invalid_request",
        "invalid_grant",
    )


async def test_redirect_uri_mismatch_never_redirects(
    http: httpx.AsyncClient, portal: dict[str, Any]
) -> None:
    _, challenge = support.pkce()
    for uri in (
        "https://evil.example/callback",
        support.REDIRECT_URI + "/x",
        support.REDIRECT_URI + "?a=1",
    ):
        url = support.authorize_url(portal["client_id"], challenge).replace(
            httpx.QueryParams(redirect_uri=support.REDIRECT_URI).__str__(),
            httpx.QueryParams(redirect_uri=uri).__str__(),
        )
        response = await http.get(url)
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]


async def test_scope_escalation_at_refresh_is_refused(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1], scope="cpf:read")
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "scope": "cpf:read c2p:read",
        },
        auth=(portal["client_id"], portal["client_secret"]),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


async def test_scopes_beyond_the_client_are_refused_at_authorize(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    training = await support.client(db, "training_body")
    _, challenge = support.pkce()
    response = await http.get(
        support.authorize_url(training["client_id"], challenge, scope="cpf:read c2p:read")
    )
    assert support.query_of(response.headers["location"])["error"] == "invalid_scope"


async def test_token_of_client_a_on_client_b_subject(
    app: Litestar,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """A's token naming B's pairwise subject and consent is refused; each sees its own sub."""
    other = await support.client(db, "portal")
    token_a = await _tokens(app, http, portal, citizen[1])
    token_b = await _tokens(app, http, other, citizen[1])
    me_a = (
        await http.get("/v1/me", headers={"Authorization": f"Bearer {token_a['access_token']}"})
    ).json()
    me_b = (
        await http.get("/v1/me", headers={"Authorization": f"Bearer {token_b['access_token']}"})
    ).json()
    assert me_a["sub"] != me_b["sub"]
    codec = app.state.auth.codec
    claims_b = codec.decode(token_b["access_token"])
    forged = codec.encode({**claims_b, "client_id": portal["client_id"], "jti": "forged"})
    assert (
        await http.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401
    consent_b = (
        await http.get(
            "/v1/me/consents", headers={"Authorization": f"Bearer {token_b['access_token']}"}
        )
    ).json()["consents"][0]["id"]
    consents_a = (
        await http.get(
            "/v1/me/consents", headers={"Authorization": f"Bearer {token_a['access_token']}"}
        )
    ).json()["consents"]
    assert consent_b in [c["id"] for c in consents_a]  # same person: her own history
    _stranger, stranger_nir = await support.person(db, app.state.vault, "2990175123456")
    token_s = await _tokens(app, http, portal, stranger_nir)
    refused = await http.delete(
        f"/v1/me/consents/{consent_b}",
        headers={"Authorization": f"Bearer {token_s['access_token']}"},
    )
    assert refused.status_code == 404


def _concrete(path: str) -> str:
    return re.sub(
        r"\{([^:}]+)(:[^}]+)?\}",
        lambda m: "00000000-0000-0000-0000-000000000000" if m.group(2) == ":uuid" else "x",
        path,
    )


async def test_every_v1_route_refuses_a_request_without_token(
    app: Litestar, http: httpx.AsyncClient
) -> None:
    checked = 0
    for route in app.routes:
        if not route.path.startswith("/v1/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if is_public(handler):
                continue
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                response = await http.request(method, _concrete(route.path), json={})
                assert response.status_code == 401, (method, route.path, response.status_code)
                assert response.headers["www-authenticate"].startswith("Bearer")
                checked += 1
    assert checked >= 6


async def test_replayed_code_redeemed_concurrently_succeeds_once(
    fresh_dsn: str, settings: Settings
) -> None:
    pool = await create_pool(fresh_dsn, settings, min_size=2, max_size=12)
    try:
        app = create_app(settings, database=PoolDatabase(pool))
        async with pool.acquire() as db:
            creds = await support.client(db, "portal")
            _, nir_value = await support.person(db, app.state.vault)
        verifier, challenge = support.pkce()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=support.ISSUER
        ) as http:
            back = await support.login_and_consent(
                http, support.authorize_url(creds["client_id"], challenge), nir_value
            )
            code = support.query_of(back.headers["location"])["code"]
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": support.REDIRECT_URI,
                "code_verifier": verifier,
            }
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/oauth/token", data=form, auth=(creds["client_id"], creds["client_secret"])
                    )
                    for _ in range(10)
                )
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [400] * 9
        assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)
    finally:
        await pool.close()
