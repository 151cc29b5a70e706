"""Consent that remembers (issue 15 point 4): the citizen's browser session at
``/oauth/authorize`` and the reuse of an active consent; ``prompt`` forces or forbids the
pages (OIDC Core §3.1.2.1); a broader scope asks for the difference only; the partner learns
its consent from the token response and ``GET /v1/me/consent``."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from cpa.auth.pages import SCOPE_WORDS
from tests.auth import support

FIRST_SCOPE = "account:read cpf:read"
BROADER_SCOPE = "account:read cpf:read cec:read"


async def _authorize(http: httpx.AsyncClient, client_id: str, scope: str, **extra: str) -> Any:
    """Open the authorize URL; the answer and the PKCE verifier to exchange its code with."""
    verifier, challenge = support.pkce()
    answer = await http.get(support.authorize_url(client_id, challenge, scope=scope, **extra))
    return answer, verifier


def _is_login(page: httpx.Response) -> bool:
    return page.status_code == 200 and 'name="password"' in page.text


def _is_consent(page: httpx.Response) -> bool:
    return page.status_code == 200 and 'name="decision"' in page.text


async def _login(http: httpx.AsyncClient, page: httpx.Response, nir: str) -> httpx.Response:
    fields = support.form_fields(page.text)
    return await http.post(
        "/oauth/authorize", data={**fields, "nir": nir, "password": support.PASSWORD}
    )


async def _accept(http: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    fields = support.form_fields(page.text)
    decided = await http.post("/oauth/authorize", data={**fields, "decision": "accept"})
    assert decided.status_code == 303, decided.text
    return decided


async def _exchange(
    http: httpx.AsyncClient, client: dict[str, Any], back: httpx.Response, verifier: str
) -> dict[str, Any]:
    assert back.status_code == 303, back.text
    params = support.query_of(back.headers["location"])
    assert "code" in params, params
    token = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": support.REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return dict(token.json())


async def _consents(db: asyncpg.Connection, person_id: Any) -> int:
    return int(await db.fetchval("select count(*) from consents where person_id = $1", person_id))


def _asked(page: str) -> list[str]:
    """The scopes the consent page asks for (not those it says were granted already)."""
    asked = re.search(r'<ul class="asked">(.*?)</ul>', page, re.S)
    assert asked is not None, page
    return [unescape(item) for item in re.findall(r"<li>(.*?)</li>", asked.group(1))]


async def test_a_second_authorization_reuses_the_session_and_the_consent(
    app: Litestar,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
    db: asyncpg.Connection,
) -> None:
    """The done-when of issue 15: no login nor consent the second time, the same consent;
    ``prompt=login`` and ``prompt=consent`` force their page; a broader scope asks for the
    difference only."""
    person, nir = citizen
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    assert _is_login(page)
    consent = await _login(http, page, nir)
    assert _is_consent(consent)
    cookie = consent.headers["set-cookie"]
    assert re.search(r"cpa_session=[^;]+;", cookie), cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    first = await _exchange(http, portal, await _accept(http, consent), verifier)
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    current = await http.get("/v1/me/consent", headers=bearer)
    assert current.status_code == 200, current.text
    assert current.json()["id"] == first["consent_id"]
    assert current.json()["scopes"] == FIRST_SCOPE.split()
    assert current.json()["status"] == "active"

    # Again, same scopes (a narrower one too): straight back with a code, same consent.
    for scope in (FIRST_SCOPE, "cpf:read"):
        back, verifier = await _authorize(http, portal["client_id"], scope)
        again = await _exchange(http, portal, back, verifier)
        assert again["consent_id"] == first["consent_id"] and again["scope"] == scope
    assert await _consents(db, person.id) == 1

    # prompt=login: the login page, then (the consent covers the request) no consent page.
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE, prompt="login")
    assert _is_login(page)
    logged = await _login(http, page, nir)
    assert (await _exchange(http, portal, logged, verifier))["consent_id"] == first["consent_id"]

    # prompt=consent: no login, the consent page for every scope; accepting records a consent.
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE, prompt="consent")
    assert _is_consent(page)
    assert _asked(page.text) == [SCOPE_WORDS[s]["fr"] for s in FIRST_SCOPE.split()]
    forced = await _exchange(http, portal, await _accept(http, page), verifier)
    assert forced["consent_id"] != first["consent_id"]
    assert await _consents(db, person.id) == 2

    # A broader scope: the consent page asks for the difference only.
    page, verifier = await _authorize(http, portal["client_id"], BROADER_SCOPE)
    assert _is_consent(page)
    assert _asked(page.text) == [SCOPE_WORDS["cec:read"]["fr"]]
    assert SCOPE_WORDS["cpf:read"]["fr"] in unescape(page.text)  # shown as already granted
    broader = await _exchange(http, portal, await _accept(http, page), verifier)
    assert broader["scope"] == BROADER_SCOPE
    back, verifier = await _authorize(http, portal["client_id"], BROADER_SCOPE)
    assert (await _exchange(http, portal, back, verifier))["consent_id"] == broader["consent_id"]


async def test_prompt_none_answers_the_client_without_a_page(
    app: Litestar,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """Without a session, ``login_required``; with one but no covering consent,
    ``consent_required``; with both, a code. Each to the client's redirect URI."""
    back, _ = await _authorize(http, portal["client_id"], FIRST_SCOPE, prompt="none")
    assert back.status_code == 303 and back.headers["location"].startswith(support.REDIRECT_URI)
    refused = support.query_of(back.headers["location"])
    assert refused["error"] == "login_required" and refused["state"] == "xyz"
    assert refused["iss"] == support.ISSUER
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    await _exchange(
        http, portal, await _accept(http, await _login(http, page, citizen[1])), verifier
    )
    back, _ = await _authorize(http, portal["client_id"], BROADER_SCOPE, prompt="none")
    assert support.query_of(back.headers["location"])["error"] == "consent_required"
    back, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE, prompt="none")
    await _exchange(http, portal, back, verifier)
    back, _ = await _authorize(http, portal["client_id"], FIRST_SCOPE, prompt="none login")
    assert support.query_of(back.headers["location"])["error"] == "invalid_request"


async def test_logout_and_the_idle_limit_end_the_session(
    app: Litestar,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
    db: asyncpg.Connection,
) -> None:
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    await _exchange(
        http, portal, await _accept(http, await _login(http, page, citizen[1])), verifier
    )
    token = http.cookies["cpa_session"]
    out = await http.post("/oauth/logout", data={"lang": "fr"})
    assert out.status_code == 200 and "déconnecté" in out.text
    assert await db.fetchval("select count(*) from browser_sessions") == 0
    page, _ = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    assert _is_login(page)
    # A copy of the ended session's cookie opens nothing either.
    http.cookies.set("cpa_session", token)
    page, _ = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    assert _is_login(page)

    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    back = await _login(http, page, citizen[1])  # the consent covers it: a code
    await _exchange(http, portal, back, verifier)
    limits = await db.fetchrow(
        "select idle_expires_at, expires_at, created_at from browser_sessions"
    )
    settings = app.state.auth.settings
    assert (limits["expires_at"] - limits["created_at"]).total_seconds() == (
        settings.browser_session_lifetime_s
    )
    await db.execute("update browser_sessions set idle_expires_at = now() - interval '1 second'")
    page, _ = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    assert _is_login(page)


async def test_a_pushed_request_reuses_the_consent_and_is_used_up(
    app: Litestar,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """PAR (RFC 9126) with a live session and a covering consent: a code at once, and the
    pushed request cannot be used a second time."""
    page, verifier = await _authorize(http, portal["client_id"], FIRST_SCOPE)
    consent = await _login(http, page, citizen[1])
    await _exchange(http, portal, await _accept(http, consent), verifier)
    verifier, challenge = support.pkce()
    pushed = await http.post(
        "/oauth/par",
        data={
            "response_type": "code",
            "redirect_uri": support.REDIRECT_URI,
            "scope": FIRST_SCOPE,
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        auth=(portal["client_id"], portal["client_secret"]),
    )
    assert pushed.status_code == 201, pushed.text
    url = "/oauth/authorize?" + str(
        httpx.QueryParams(client_id=portal["client_id"], request_uri=pushed.json()["request_uri"])
    )
    back = await http.get(url)
    await _exchange(http, portal, back, verifier)
    again = await http.get(url)
    assert again.status_code == 400 and "invalid_request_uri" in again.text
