"""Advisor lookups and the access journal, rate limits, the login page, logs without secrets."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from cpa.auth.clients import NewClient, register_client
from tests.auth import support
from tests.auth.test_code_flow import _tokens


async def _machine_token(app: Litestar, creds: dict[str, Any]) -> str:
    async with support.oauth(app, creds) as oauth:
        token = await oauth.fetch_token("/oauth/token", grant_type="client_credentials")
    return str(token["access_token"])


async def test_advisor_lookup_then_read_is_journaled_for_the_person(
    app: Litestar,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    tool = await support.client(db, "advisor_tool")
    bearer = {"Authorization": f"Bearer {await _machine_token(app, tool)}"}
    body = {"nir": citizen[1], "advisor_id": "A-42", "purpose": "career_guidance"}
    lookup = await http.post("/v1/advisor/lookups", json=body, headers=bearer)
    assert lookup.status_code == 201, lookup.text
    ref = lookup.json()["person_ref"]
    read = await http.get(f"/v1/advisor/persons/{ref}", headers=bearer)
    assert read.status_code == 200 and read.json()["purpose"] == "career_guidance"
    # Another advisor tool cannot use the reference.
    other = await support.client(db, "advisor_tool")
    foreign = await http.get(
        f"/v1/advisor/persons/{ref}",
        headers={"Authorization": f"Bearer {await _machine_token(app, other)}"},
    )
    assert foreign.status_code == 404
    bad = await http.post(
        "/v1/advisor/lookups", json={**body, "purpose": "curiosity"}, headers=bearer
    )
    assert bad.status_code == 422 and bad.json()["type"] == "urn:cpa:problem:unknown-purpose"
    # The person reads it all in their access journal, through their portal.
    token = await _tokens(app, http, portal, citizen[1])
    log = await http.get(
        "/v1/me/access-log", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    entries = log.json()["entries"]
    assert [(e["action"], e["advisor_id"], e["purpose"], e["client_id"]) for e in entries] == [
        ("read", "A-42", "career_guidance", tool["client_id"]),
        ("lookup", "A-42", "career_guidance", tool["client_id"]),
    ]


async def test_machine_tokens_cannot_use_person_routes(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    tool = await support.client(db, "advisor_tool")
    response = await http.get(
        "/v1/me", headers={"Authorization": f"Bearer {await _machine_token(app, tool)}"}
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:cpa:problem:person-token-required"


async def test_a_person_token_without_the_scope_is_refused(
    app: Litestar, http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    token = await _tokens(app, http, portal, citizen[1], scope="cpf:read")
    response = await http.get(
        "/v1/me/consents", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_rate_limit_answers_429_with_retry_after(
    app: Litestar, db: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    creds = await register_client(
        db, NewClient(name="slow", kind="advisor_tool", rate_limit_per_minute=3)
    )
    bearer = {"Authorization": f"Bearer {await _machine_token(app, creds)}"}
    statuses = []
    for _ in range(3):
        response = await http.get("/v1/advisor/persons/x", headers=bearer)
        statuses.append(response.status_code)
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-limit"] == "3"


async def test_login_page_is_french_first_then_english(
    http: httpx.AsyncClient, portal: dict[str, Any]
) -> None:
    _, challenge = support.pkce()
    url = support.authorize_url(portal["client_id"], challenge)
    french = await http.get(url)
    assert '<html lang="fr">' in french.text and "Se connecter" in french.text
    assert (
        "<script" not in french.text
        and "script-src" not in french.headers["content-security-policy"]
    )
    assert french.headers["x-frame-options"] == "DENY"
    english = await http.get(url + "&lang=en")
    assert "Sign in" in english.text
    preferred = await http.get(url, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Sign in" in preferred.text


async def test_wrong_password_and_missing_csrf_are_refused(
    http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    _, challenge = support.pkce()
    page = await http.get(support.authorize_url(portal["client_id"], challenge))
    fields = support.form_fields(page.text)
    wrong = await http.post(
        "/oauth/authorize", data={**fields, "nir": citizen[1], "password": "nope"}
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.text
    http.cookies.clear()
    forged = await http.post(
        "/oauth/authorize", data={**fields, "nir": citizen[1], "password": support.PASSWORD}
    )
    assert forged.status_code == 403
    # What happened, and the way back: the same request from its login page.
    assert "<h1>Le formulaire a expiré</h1>" in forged.text
    restart = '<a class="restart" href="/oauth/authorize?response_type=code&amp;client_id='
    restart += portal["client_id"]
    assert restart in forged.text and "Recommencer la connexion</a>" in forged.text
    assert "vous a envoyé ici" not in forged.text


async def test_metadata_and_jwks(http: httpx.AsyncClient) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == support.ISSUER
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    jwks = (await http.get("/oauth/jwks")).json()
    assert jwks["keys"] and all("d" not in key for key in jwks["keys"])
