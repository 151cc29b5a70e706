"""Helpers of the partner-access tests: register clients and persons, drive the login form."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from litestar import Litestar

from cpa.auth.clients import NewClient, register_client
from cpa.auth.login import set_password
from cpa.auth.sessions import PLAIN_COOKIE, SECURE_COOKIE
from cpa.persons import NewPerson, NirVault, nir_key, register_person

ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "https://portal.example/callback"
PASSWORD = "correct horse battery staple"
SESSION_COOKIES = (PLAIN_COOKIE, SECURE_COOKIE)


def nir(number13: str) -> str:
    return number13 + nir_key(number13)


async def person(
    db: asyncpg.Connection, vault: NirVault, number13: str = "1850775123456"
) -> tuple[Any, str]:
    who = await register_person(
        db, vault, NewPerson(nir=nir(number13), birth_date=dt.date(1985, 7, 1))
    )
    await set_password(db, who.id, PASSWORD)
    return who, nir(number13)


async def client(db: asyncpg.Connection, kind: str, **extra: Any) -> dict[str, Any]:
    redirect = [REDIRECT_URI] if kind in ("portal", "training_body") else []
    return await register_client(
        db,
        NewClient(
            name=f"{kind} test",
            kind=kind,
            redirect_uris=extra.pop("redirect_uris", redirect),
            **extra,
        ),
    )  # type: ignore[arg-type]


def oauth(app: Litestar, credentials: dict[str, Any], **options: Any) -> AsyncOAuth2Client:
    """Authlib's own httpx client, talking to the app in-process."""
    return AsyncOAuth2Client(
        credentials["client_id"],
        credentials.get("client_secret"),
        transport=httpx2.ASGITransport(app=app),  # Authlib's clients are built on httpx2
        base_url=ISSUER,
        **options,
    )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's form."""
    return {
        unescape(m.group(1)): unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', html)
    }


async def login_and_consent(
    http: httpx.AsyncClient,
    authorize_url: str,
    nir_value: str,
    *,
    password: str = PASSWORD,
    decision: str = "accept",
) -> httpx.Response:
    """What a citizen does on the page: open it, log in, accept or refuse. The redirect back.

    From a browser without a session (any session cookie left by an earlier flow is dropped
    first): the login and consent pages are always shown, as the tests written before the
    session expect. ``tests/auth/test_consent_session.py`` tests the session itself."""
    for name in [cookie.name for cookie in http.cookies.jar if cookie.name in SESSION_COOKIES]:
        http.cookies.delete(name)
    page = await http.get(authorize_url)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    consent = await http.post(
        "/oauth/authorize", data={**fields, "nir": nir_value, "password": password}
    )
    assert consent.status_code == 200, consent.text
    decided = await http.post(
        "/oauth/authorize", data={**form_fields(consent.text), "decision": decision}
    )
    assert decided.status_code == 303, decided.text
    return decided


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_url(
    client_id: str,
    challenge: str,
    *,
    scope: str = "account:read cpf:read",
    state: str = "xyz",
    **extra: str,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/oauth/authorize?" + urlencode(params)


@asynccontextmanager
async def from_address(app: Litestar, address: tuple[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app whose requests come from ``address`` (ASGI scope["client"])."""
    transport = httpx.ASGITransport(app=app, client=address)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


async def login_page_fields(http: httpx.AsyncClient, client_id: str) -> dict[str, str]:
    """Open the login page of a fresh authorization request: its form's hidden fields."""
    _, challenge = pkce()
    page = await http.get(authorize_url(client_id, challenge))
    assert page.status_code == 200, page.text
    return form_fields(page.text)


async def try_login(
    app: Litestar, address: tuple[str, int], client_id: str, nir_value: str, password: str
) -> httpx.Response:
    """One login attempt from ``address``: open the page, post the NIR and password."""
    async with from_address(app, address) as http:
        fields = await login_page_fields(http, client_id)
        return await http.post(
            "/oauth/authorize", data={**fields, "nir": nir_value, "password": password}
        )
