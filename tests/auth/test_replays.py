"""One-time credentials used twice (issue 10, defects 8b and 8c): a replayed authorization
code revokes what its first exchange issued (RFC 6749 §4.1.2); a consent page's login ticket
is good for the request it was shown for, once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from tests.auth import support


async def _code(http: httpx.AsyncClient, portal: dict[str, Any], nir_value: str) -> dict[str, str]:
    verifier, challenge = support.pkce()
    back = await support.login_and_consent(
        http, support.authorize_url(portal["client_id"], challenge), nir_value
    )
    return {
        "grant_type": "authorization_code",
        "code": support.query_of(back.headers["location"])["code"],
        "redirect_uri": support.REDIRECT_URI,
        "code_verifier": verifier,
    }


async def _post_token(
    http: httpx.AsyncClient, portal: dict[str, Any], form: dict[str, str]
) -> httpx.Response:
    return await http.post(
        "/oauth/token", data=form, auth=(portal["client_id"], portal["client_secret"])
    )


async def test_a_replayed_code_revokes_the_tokens_of_its_first_exchange(
    app: Litestar,
    db: asyncpg.Connection,
    settings: Settings,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """The replay is refused; the first access token is then refused by /v1 on this worker at
    once and on another worker within its revocation poll, and its refresh token is dead."""
    other_worker = create_app(settings, database=ConnectionDatabase(db))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other_worker), base_url=support.ISSUER
    ) as elsewhere:
        form = await _code(http, portal, citizen[1])
        first = await _post_token(http, portal, form)
        assert first.status_code == 200, first.text
        bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
        assert (await elsewhere.get("/v1/me", headers=bearer)).status_code == 200
        replay = await _post_token(http, portal, form)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert (await http.get("/v1/me", headers=bearer)).status_code == 401
        await asyncio.sleep(app.state.auth.settings.revocation_poll_ms / 1000 + 0.1)
        assert (await elsewhere.get("/v1/me", headers=bearer)).status_code == 401
    refreshed = await _post_token(
        http,
        portal,
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_a_code_replayed_by_another_client_revokes_nothing(
    app: Litestar,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """Codes are bound to their client: another client presenting one is simply refused."""
    form = await _code(http, portal, citizen[1])
    first = await _post_token(http, portal, form)
    other = await support.client(db, "portal")
    assert (await _post_token(http, other, form)).status_code == 400
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert (await http.get("/v1/me", headers=bearer)).status_code == 200


async def _consent_page(
    http: httpx.AsyncClient, portal: dict[str, Any], nir_value: str, scope: str
) -> dict[str, str]:
    _, challenge = support.pkce()
    page = await http.get(support.authorize_url(portal["client_id"], challenge, scope=scope))
    login = await http.post(
        "/oauth/authorize",
        data={**support.form_fields(page.text), "nir": nir_value, "password": support.PASSWORD},
    )
    assert login.status_code == 200 and 'name="ticket"' in login.text
    return support.form_fields(login.text)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("scope", "account:read cpf:read"),
        ("state", "another-state"),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    ],
)
async def test_a_ticket_is_refused_for_an_edited_request(
    http: httpx.AsyncClient,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
    name: str,
    value: str,
) -> None:
    """The consent page showed one request; its ticket grants no other (before: the edited
    scope was granted)."""
    fields = await _consent_page(http, portal, citizen[1], "account:read")
    edited = await http.post("/oauth/authorize", data={**fields, name: value, "decision": "accept"})
    assert edited.status_code == 403 and "location" not in edited.headers
    honest = await http.post("/oauth/authorize", data={**fields, "decision": "accept"})
    assert honest.status_code == 303
    assert "code" in support.query_of(honest.headers["location"])


async def test_a_ticket_is_used_once(
    http: httpx.AsyncClient, portal: dict[str, Any], citizen: tuple[Any, str]
) -> None:
    fields = await _consent_page(http, portal, citizen[1], "account:read")
    first = await http.post("/oauth/authorize", data={**fields, "decision": "accept"})
    assert first.status_code == 303
    second = await http.post("/oauth/authorize", data={**fields, "decision": "accept"})
    assert second.status_code == 403 and "location" not in second.headers
    # WCAG 2.2.1: the login is spent (or its 10 minutes passed); the page says so and restarts.
    assert "<title>Erreur : Votre connexion a expiré</title>" in second.text
    assert f'href="/oauth/authorize?response_type=code&amp;client_id={portal["client_id"]}' in (
        second.text
    )
    refused_then = await http.post("/oauth/authorize", data={**fields, "decision": "refuse"})
    assert refused_then.status_code == 403


async def test_a_forged_or_foreign_ticket_is_refused(
    http: httpx.AsyncClient,
    db: asyncpg.Connection,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    fields = await _consent_page(http, portal, citizen[1], "account:read")
    header, claims, signature = fields["ticket"].split(".")
    forged = header + "." + claims + "." + signature[::-1]
    assert (
        await http.post("/oauth/authorize", data={**fields, "ticket": forged, "decision": "accept"})
    ).status_code == 403
    other = await support.client(db, "portal")
    assert (
        await http.post(
            "/oauth/authorize",
            data={**fields, "client_id": other["client_id"], "decision": "accept"},
        )
    ).status_code == 403
