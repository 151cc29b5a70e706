"""The demo partner page (``/demo/``): a small citizen portal that runs the authorization-code
flow in a browser exactly as a partner does, and shows the account it obtained.

Served by cpa in demo mode only (:func:`cpa.demo.app.create_demo_app`), as the demo client
``demo-portal``. ``/demo/start`` makes a ``state`` and a PKCE verifier (S256), keeps them in
an HttpOnly, SameSite=Lax cookie scoped to ``/demo`` (Lax: the authorization server's
redirect back is a top-level GET from another page, which Strict would strip the cookie
from), and sends the browser to ``/oauth/authorize``. ``/demo/callback`` checks the state and
the issuer (RFC 9207), redeems the code at the token endpoint over real HTTP
(``client_secret_basic``), reads ``/v1/me/account`` with the token and shows it; or shows the
OAuth error the server sent back (``access_denied`` when the citizen refused).

The pages are Jinja2 templates with autoescape and the same strict headers as the login
pages (no script at all). They are French; the protocol's words (error codes, the JSON) are
marked ``lang="en"``. Nothing here logs a code, a token or a verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie

from cpa.auth.pages import PAGE_HEADERS
from cpa.config import Settings
from cpa.demo.auth import DEMO_CALLBACK_PATH, demo_client, demo_password, demo_redirect_uri
from cpa.demo.persons import DEMO_PERSONS

log = structlog.get_logger(__name__)

FLOW_COOKIE = "cpa_demo_flow"
FLOW_COOKIE_MAX_AGE_S = 1800
"""A flow not finished within this time starts again (the login itself allows 10 minutes)."""
DEMO_SCOPES = "account:read cpf:read cec:read c2p:read"
"""What the demo portal asks: the account and its three pots, so the page has something to show."""
HTTP_TIMEOUT_S = 10.0
"""Each call of the demo partner to the token endpoint and the API (both on this server)."""
STATE_BYTES = 24
VERIFIER_BYTES = 48
"""64 characters once encoded: within RFC 7636's 43 to 128."""
ERROR_TEXT_CHARS_MAX = 300
"""What is shown of an error description or an unexpected answer (it may be anything)."""

_TEMPLATES = Environment(
    loader=PackageLoader("cpa.demo", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _page(name: str, code: int = 200, cookie: Cookie | None = None, **values: Any) -> Response[str]:
    return Response(
        _TEMPLATES.get_template(name).render(**values),
        status_code=code,
        media_type="text/html; charset=utf-8",
        headers=PAGE_HEADERS,
        cookies=[cookie] if cookie else None,
    )


def _flow_cookie(settings: Settings, value: str, max_age: int = FLOW_COOKIE_MAX_AGE_S) -> Cookie:
    return Cookie(
        key=FLOW_COOKIE,
        value=value,
        path="/demo",
        httponly=True,
        samesite="lax",
        secure=settings.issuer.startswith("https://"),
        max_age=max_age,
    )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def local_base_url(settings: Settings) -> str:
    """This server as its own workers reach it: the address it listens on (a wildcard address
    is reached on the loopback), whatever public address the issuer names."""
    host = settings.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def euros(cents: int) -> str:
    """``123456`` → ``1 234,56 €`` (French grouping, narrow no-break spaces)."""
    whole, part = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u202f")
    return f"{'-' if cents < 0 else ''}{grouped},{part:02d}\u00a0€"


def account_lines(account: dict[str, Any]) -> list[tuple[str, str]]:
    """The account in words: each pot the token could see, with its amount."""
    lines = []
    if account.get("last_credited_on"):
        lines.append(("Dernière mise à jour des droits", account["last_credited_on"]))
    if cpf := account.get("cpf"):
        lines.append(
            ("Compte personnel de formation (CPF), disponible", euros(cpf["available_cents"]))
        )
        lines.append(("CPF réservé pour des formations en cours", euros(cpf["held_cents"])))
    if cec := account.get("cec"):
        lines.append(("Compte d'engagement citoyen (CEC)", euros(cec["balance_cents"])))
    if c2p := account.get("c2p"):
        lines.append(
            ("Compte professionnel de prévention (C2P)", f"{c2p['points_available']} points")
        )
    return lines


class DemoPartnerController(Controller):
    """The demo portal's three pages (not part of the API: absent from its OpenAPI document)."""

    path = "/demo"
    include_in_schema = False

    @get("/", sync_to_thread=False)
    def home(self, request: Request[Any, Any, Any]) -> Response[str]:
        settings: Settings = request.app.state.settings
        return _page(
            "home.html",
            client_id=demo_client(settings, "portal").client_id,
            scopes=DEMO_SCOPES.split(),
            redirect_uri=demo_redirect_uri(settings),
            nir=DEMO_PERSONS[0].nir,
            password=demo_password(0),
        )

    @get("/start", sync_to_thread=False)
    def start(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """A new state and PKCE verifier, kept in the cookie; off to the authorization server."""
        settings: Settings = request.app.state.settings
        state = secrets.token_urlsafe(STATE_BYTES)
        verifier = secrets.token_urlsafe(VERIFIER_BYTES)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": demo_client(settings, "portal").client_id,
                "redirect_uri": demo_redirect_uri(settings),
                "scope": DEMO_SCOPES,
                "state": state,
                "code_challenge": _s256(verifier),
                "code_challenge_method": "S256",
            }
        )
        return Response(
            b"",
            status_code=303,
            headers={"Location": f"{settings.issuer}/oauth/authorize?{query}", **PAGE_HEADERS},
            cookies=[_flow_cookie(settings, f"{state}.{verifier}")],
        )

    @get(DEMO_CALLBACK_PATH.removeprefix("/demo"))
    async def callback(self, request: Request[Any, Any, Any]) -> Response[str]:
        settings: Settings = request.app.state.settings
        ended = _flow_cookie(settings, "", max_age=0)  # one flow, one callback
        query = request.query_params
        state, _, verifier = request.cookies.get(FLOW_COOKIE, "").partition(".")
        if not state or not hmac.compare_digest(state, query.get("state", "")):
            log.warning("demo_flow_refused", reason="state")
            return _page("result.html", 400, ended, outcome="state")
        if query.get("iss") != settings.issuer:
            log.warning("demo_flow_refused", reason="issuer")
            return _page("result.html", 400, ended, outcome="issuer")
        if "error" in query:
            log.info("demo_flow_ended", error=query["error"][:64])
            return _page(
                "result.html",
                200,
                ended,
                outcome="oauth_error",
                error=query["error"][:ERROR_TEXT_CHARS_MAX],
                description=query.get("error_description", "")[:ERROR_TEXT_CHARS_MAX],
            )
        return await _redeem(settings, query.get("code", ""), verifier, ended)


async def _redeem(settings: Settings, code: str, verifier: str, ended: Cookie) -> Response[str]:
    """The partner's back end: the code for a token (client_secret_basic), the token for the
    account, over real HTTP to this very server."""
    client = demo_client(settings, "portal")
    assert client.client_id is not None and client.client_secret is not None
    base = local_base_url(settings)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, trust_env=False) as http:
        token = await http.post(
            f"{base}/oauth/token",
            auth=httpx.BasicAuth(client.client_id, client.client_secret),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": demo_redirect_uri(settings),
                "code_verifier": verifier,
            },
        )
        if token.status_code != 200:
            return _failed(ended, "token", token)
        access_token = token.json()["access_token"]
        account = await http.get(
            f"{base}/v1/me/account", headers={"Authorization": f"Bearer {access_token}"}
        )
    if account.status_code != 200:
        return _failed(ended, "account", account)
    log.info("demo_flow_completed", scope=token.json().get("scope", ""))
    body = account.json()
    return _page(
        "result.html",
        200,
        ended,
        outcome="account",
        scope=token.json().get("scope", ""),
        lines=account_lines(body),
        account_json=msgspec.json.format(account.content, indent=2).decode(),
    )


def _failed(ended: Cookie, step: str, answer: httpx.Response) -> Response[str]:
    log.warning("demo_flow_failed", step=step, status=answer.status_code)
    return _page(
        "result.html",
        502,
        ended,
        outcome=step,
        status=answer.status_code,
        answer=answer.text[:ERROR_TEXT_CHARS_MAX],
    )
