"""Authorization code + PKCE through the HTML form, refresh rotation, introspection,
revocation and consent revocation, all with Authlib's httpx client."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from tests.auth import support


async def _tokens(
    app: Litestar,
    http: httpx.AsyncClient,
    creds: dict[str, Any],
    nir: str,
    *,
    par: bool = False,
    scope: str = "account:read cpf:read",
) -> dict[str, Any]:
    verifier, challenge = support.pkce()
    async with support.oauth(
        app, creds, redirect_uri=support.REDIRECT_URI, scope=scope, code_challenge_method="S256"
    ) as oauth:
        if par:
            pushed = await oauth.post(
                "/oauth/par",
                data={
                    "response_type": "code",
                    "redirect_uri": support.REDIRECT_URI,
                    "scope": scope,
                    "state": "xyz",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
                auth=(creds["client_id"], creds["client_secret"]),
            )
            assert pushed.status_code == 201, pushed.text
            url = (
                "/oauth/authorize?"
                + httpx.QueryParams(
                    client_id=creds["client_id"], request_uri=pushed.json()["request_uri"]
                ).__str__()
            )
        else:
            url, _ = oauth.create_authorization_url(
                "/oauth/authorize", state="xyz", code_verifier=verifier
            )
        back = await support.login_and_consent(http, url, nir)
        location = back.headers["location"]
        params = support.query_of(location)
        assert location.startswith(support.REDIRECT_URI)
        assert params["state"] == "xyz" and params["iss"] == support.ISSUER
        token: dict[str, Any] = await oauth.fetch_token(
            "/oauth/token", authorization_response=location, code_verifier=verifier, state="xyz"
        )
    return token


async def test_code_flow_through_the_form_then_me(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1])
    assert token["refresh_token"] and token["expires_in"] == 300
    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["client_id"] == portal["client_id"]
    assert body["scopes"] == ["account:read", "cpf:read"]
    assert body["sub"] != str(citizen[0].id)
    assert me.headers["ratelimit-limit"] and me.headers["ratelimit-remaining"]


async def test_code_flow_with_par(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1], par=True)
    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200


async def test_refresh_rotates(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    first = await _tokens(app, http, portal, citizen[1])
    async with support.oauth(app, portal) as oauth:
        second = await oauth.refresh_token("/oauth/token", refresh_token=first["refresh_token"])
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        again = await oauth.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(portal["client_id"], portal["client_secret"]),
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # The replay revoked the family: the rotated token is dead too.
        third = await oauth.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
            auth=(portal["client_id"], portal["client_secret"]),
        )
        assert third.status_code == 400


async def test_introspection_of_own_tokens_only(
    app: Litestar,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    token = await _tokens(app, http, portal, citizen[1])
    async with support.oauth(app, portal) as oauth:
        seen = await oauth.introspect_token("/oauth/introspect", token=token["access_token"])
        assert seen.status_code == 200
        assert seen.json()["active"] is True and seen.json()["scope"] == "account:read cpf:read"
        refresh = await oauth.introspect_token("/oauth/introspect", token=token["refresh_token"])
        assert refresh.json()["active"] is True
    other = await support.client(db, "portal")
    async with support.oauth(app, other) as oauth:
        foreign = await oauth.introspect_token("/oauth/introspect", token=token["access_token"])
    assert foreign.json() == {"active": False}


async def test_revoked_access_token_is_refused(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1])
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await http.get("/v1/me", headers=bearer)).status_code == 200
    async with support.oauth(app, portal) as oauth:
        revoked = await oauth.revoke_token("/oauth/revoke", token=token["access_token"])
        assert revoked.status_code == 200
        seen = await oauth.introspect_token("/oauth/introspect", token=token["access_token"])
        assert seen.json() == {"active": False}
    refused = await http.get("/v1/me", headers=bearer)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_consent_revocation_kills_tokens(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1])
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    consents = (await http.get("/v1/me/consents", headers=bearer)).json()["consents"]
    assert [c["status"] for c in consents] == ["active"]
    revoked = await http.delete(f"/v1/me/consents/{consents[0]['id']}", headers=bearer)
    assert revoked.status_code == 200, revoked.text
    assert (await http.get("/v1/me", headers=bearer)).status_code == 401
    async with support.oauth(app, portal) as oauth:
        refreshed = await oauth.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(portal["client_id"], portal["client_secret"]),
        )
    assert refreshed.status_code == 400
    # The history is kept.
    fresh = await _tokens(app, http, portal, citizen[1])
    history = (
        await http.get(
            "/v1/me/consents", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        )
    ).json()["consents"]
    assert sorted(c["status"] for c in history) == ["active", "revoked"]


async def test_refusing_redirects_with_access_denied(
    http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    _, challenge = support.pkce()
    back = await support.login_and_consent(
        http, support.authorize_url(portal["client_id"], challenge), citizen[1], decision="refuse"
    )
    params = support.query_of(back.headers["location"])
    assert params["error"] == "access_denied"
    assert params["state"] == "xyz" and params["iss"] == support.ISSUER
