"""The browser flow of the OAuth server: ``/oauth/authorize``, where a citizen logs in and
decides on a partner's request (login page, consent page, error page; a CSRF cookie; a login
ticket from the login to the decision, :mod:`cpa.auth.tickets`). Errors are pages, or a
redirect to the client when its redirect URI is known to be its own (RFC 6749 §4.1.2.1).
Form bodies are never logged (they carry NIRs and passwords).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import structlog
from authlib.oauth2.rfc6749 import OAuth2Error
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec

from cpa.auth.clients import Client, find_client
from cpa.auth.consents import grant_consent
from cpa.auth.crypto import token_hash
from cpa.auth.endpoints import REQUEST_URI_PREFIX
from cpa.auth.login import Authentication
from cpa.auth.openapi import form_body, operation, query_parameters
from cpa.auth.pages import (
    PAGE_HEADERS,
    Lang,
    carried_parameters,
    consent_page,
    error_page,
    language,
    login_page,
)
from cpa.auth.ratelimit import address_key
from cpa.auth.responses import (
    AUTHORIZE_FIELDS,
    ERROR_DESCRIPTIONS,
    auth_state,
    authlib_request,
    oauth_errors,
    oauth_response,
    oauth_route,
)
from cpa.auth.scopes import SCOPES
from cpa.auth.server import (
    CpaRequest,
    Exchange,
    Grantee,
    add_issuer,
    check_printable,
    deciding,
    given,
    parse_form,
)
from cpa.auth.state import AuthState
from cpa.auth.tickets import request_digest
from cpa.db.database import Connection
from cpa.db.queries import sql

log = structlog.get_logger(__name__)

HTML = "text/html"
CSRF_COOKIE = "cpa_csrf"
CSRF_COOKIE_MAX_AGE_S = 3600


def _html(
    content: str,
    status: int = 200,
    cookie: Cookie | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        content,
        status_code=status,
        media_type=HTML,  # Litestar adds the one charset (utf-8) to text types
        headers={**PAGE_HEADERS, **(headers or {})},
        cookies=[cookie] if cookie else None,
    )


def _csrf_cookie(state: AuthState, value: str) -> Cookie:
    return Cookie(
        key=CSRF_COOKIE,
        value=value,
        path="/oauth",
        httponly=True,
        samesite="strict",
        secure=state.issuer.startswith("https://"),
        max_age=CSRF_COOKIE_MAX_AGE_S,
    )


class _Refused(Exception):
    """The authorization request is not valid: an error page, or a redirect when safe."""

    def __init__(self, response: Response[Any]) -> None:
        self.response = response


async def _resolve_parameters(
    state: AuthState, db: Connection, pairs: list[tuple[str, str]], lang: Lang
) -> tuple[list[tuple[str, str]], Exchange, bool]:
    """The authorization request's parameters (from PAR when a request_uri is given)."""
    try:
        check_printable(pairs)
    except OAuth2Error as error:
        detail = f"{error.error}: {error.description}"
        raise _Refused(_html(error_page(lang=lang, detail=detail), 400)) from error
    params = dict(pairs)
    exchange = Exchange()
    client_id = params.get("client_id", "")
    exchange.client = await find_client(db, client_id) if client_id else None
    pushed = False
    if "request_uri" in params:
        uri = params["request_uri"]
        stored = None
        if uri.startswith(REQUEST_URI_PREFIX) and exchange.client is not None:
            stored = await db.fetchval(
                sql("get_pushed_request"), token_hash(uri), exchange.client.id
            )
        if stored is None:
            raise _Refused(
                _html(
                    error_page(
                        lang=lang, detail="invalid_request_uri: unknown or expired request_uri"
                    ),
                    400,
                )
            )
        pairs = [(k, v) for k, v in stored if k != "client_id"] + [("client_id", client_id)]
        pushed = True
    elif (
        state.settings.par_required_for_portals
        and exchange.client is not None
        and exchange.client.kind == "portal"
    ):
        raise _Refused(
            _html(
                error_page(
                    lang=lang,
                    detail="invalid_request: this client must push its requests to /oauth/par",
                ),
                400,
            )
        )
    return pairs, exchange, pushed


def _validate(state: AuthState, oauth_request: CpaRequest, exchange: Exchange, lang: Lang) -> Any:
    """Authlib's validation of the authorization request; errors become a page or a redirect."""
    try:
        with deciding(exchange):
            return state.server.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        if error.redirect_uri:
            error.state = oauth_request.payload.state
            error.description = error.description or ERROR_DESCRIPTIONS.get(error.error)
            _status, _, headers = error()
            location = add_issuer(dict(headers)["Location"], state.issuer)
            raise _Refused(
                Response(
                    b"",
                    status_code=303,
                    headers={"Location": location, "Cache-Control": "no-store"},
                )
            ) from error
        detail = f"{error.error}: {error.description or ''}".strip()
        raise _Refused(_html(error_page(lang=lang, detail=detail), 400)) from error


def _page(description: str) -> ResponseSpec:
    return ResponseSpec(str, description=description, media_type=HTML, generate_examples=False)


_LANG = {"type": "string", "enum": ["fr", "en"], "description": "The page's language."}
_REDIRECTED = ResponseSpec(
    None,
    description=(
        "Back to the partner's redirect URI (`Location`): with `code`, `state` and `iss`, or "
        "with an RFC 6749 §4.1.2.1 `error` once the client and its redirect URI are known."
    ),
)
_PAGES: dict[int, ResponseSpec] = {
    303: _REDIRECTED,
    400: _page("An error page: the request cannot be sent back to the partner."),
    **oauth_errors(503),
}


@oauth_route(
    "GET",
    "/oauth/authorize",
    "getAuthorize",
    "Login and consent page (HTML)",
    description="The citizen's browser opens it with the partner's authorization request.",
    responses={200: _page("The login page."), **_PAGES},
    operation_class=operation(
        query=query_parameters({**AUTHORIZE_FIELDS, "lang": _LANG}, required=("client_id",))
    ),
)
async def authorize_page(request: Request[Any, Any, Any]) -> Response[Any]:
    state = auth_state(request)
    pairs = list(request.query_params.multi_items())
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    pairs = [(k, v) for k, v in pairs if k != "lang"]
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    try:
        async with request.app.state.db.acquire() as db:
            resolved, exchange, _ = await _resolve_parameters(state, db, pairs, lang)
        _validate(state, authlib_request(state, request, resolved), exchange, lang)
    except _Refused as refused:
        return refused.response
    assert exchange.client is not None
    page = login_page(
        lang=lang,
        partner=exchange.client.name,
        fields=state.login.fields,
        carried=carried_parameters(dict(pairs)),
        csrf=csrf,
    )
    return _html(page, cookie=_csrf_cookie(state, csrf))


@oauth_route(
    "POST",
    "/oauth/authorize",
    "postAuthorize",
    "Login and consent decisions (HTML form)",
    description="Sent by the login and consent pages themselves, never by a partner.",
    responses={
        200: _page("The consent page, or the login page again."),
        401: _page("The login page again: wrong NIR or password."),
        403: _page("An error page: the form expired or was not sent from this page."),
        429: _page("The login page: too many failed logins, retry after `Retry-After`."),
        **_PAGES,
    },
    operation_class=operation(
        body=form_body(
            {
                **AUTHORIZE_FIELDS,
                "lang": _LANG,
                "csrf": {"type": "string"},
                "step": {"type": "string", "enum": ["login", "consent"]},
                "nir": {"type": "string"},
                "password": {"type": "string", "format": "password"},
                "ticket": {"type": "string"},
                "decision": {"type": "string", "enum": ["accept", "refuse"]},
            }
        )
    ),
)
async def authorize_decide(request: Request[Any, Any, Any]) -> Response[Any]:
    state = auth_state(request)
    form_pairs = parse_form(await request.body())
    form = dict(form_pairs)
    lang: Lang = "en" if form.get("lang") == "en" else "fr"
    csrf = form.get("csrf", "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not csrf or not hmac.compare_digest(csrf.encode(), cookie.encode()):
        log.warning("authorize_csrf_refused")
        page = error_page(lang=lang, reason="expired_form", restart=carried_parameters(form))
        return _html(page, 403)
    carried = carried_parameters(form)
    logging_in = form.get("step") != "consent"
    address, nir_key = address_key(request.scope.get("client")), state.login.key_for(form)
    if logging_in:  # before any query: a refused attempt costs next to nothing
        wait_s = state.login_throttle.refusal(nir_key, address)
        if wait_s is not None:
            log.info("login_failed", client_id=form.get("client_id", "")[:64], throttled=True)
            return _too_many_logins(lang, wait_s, carried)
    try:
        async with request.app.state.db.acquire() as db:
            resolved, exchange, pushed = await _resolve_parameters(state, db, carried, lang)
            oauth_request = authlib_request(state, request, resolved)
            grant = _validate(state, oauth_request, exchange, lang)
            assert exchange.client is not None
            step = _Step(
                state=state,
                db=db,
                form=form,
                client=exchange.client,
                carried=carried,
                csrf=csrf,
                lang=lang,
                oauth_request=oauth_request,
                digest=request_digest(carried + resolved, csrf),
            )
            if not logging_in:
                return await _decide_consent(step, grant, exchange, pushed)
            return await _login(step, nir_key, address)
    except _Refused as refused:
        return refused.response


@dataclass(frozen=True, kw_only=True)
class _Step:
    """One POST of the authorize form: what the login and the consent steps both need."""

    state: AuthState
    db: Connection
    form: dict[str, str]
    client: Client
    carried: list[tuple[str, str]]
    csrf: str
    lang: Lang
    oauth_request: CpaRequest
    digest: str
    """What the login ticket is bound to (:func:`request_digest`)."""


def _too_many_logins(lang: Lang, wait_s: int, carried: list[tuple[str, str]]) -> Response[Any]:
    """Refused before any query or hashing: the page says when to come back."""
    page = error_page(lang=lang, reason="too_many", wait_s=wait_s, restart=carried)
    return _html(page, 429, headers={"Retry-After": str(wait_s)})


async def _login(step: _Step, nir_key: str, address: str) -> Response[Any]:
    """Check the credentials (the throttle has let this attempt through); count a failure."""
    state, client, throttle = step.state, step.client, step.state.login_throttle
    who = await state.login.authenticate(step.db, step.form)
    if who is None:
        throttle.failed(nir_key, address)
        log.info("login_failed", client_id=client.id, throttled=False)
        page = login_page(
            lang=step.lang,
            partner=client.name,
            fields=state.login.fields,
            carried=step.carried,
            csrf=step.csrf,
            error="bad_login",
            nir_value=step.form.get("nir", ""),
        )
        return _html(page, 401)
    throttle.succeeded(nir_key, address)
    log.info("login_succeeded", client_id=client.id, acr=who.acr)
    scopes = step.oauth_request.scope.split()
    until = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=state.settings.consent_lifetime_days)
    ).date()
    page = consent_page(
        lang=step.lang,
        partner=client.name,
        kind=client.kind,
        scopes=[s for s in scopes if s in SCOPES],
        days=state.settings.consent_lifetime_days,
        until=until,
        carried=step.carried,
        csrf=step.csrf,
        ticket=state.tickets.issue(who, client.id, step.digest),
    )
    return _html(page)


def _login_again(step: _Step, detail: str) -> Response[Any]:
    page = error_page(lang=step.lang, detail=detail, reason="expired_login", restart=step.carried)
    return _html(page, 403)


async def _grant(step: _Step, who: Authentication) -> Grantee:
    """The citizen accepted: the consent is recorded, the code will act for it."""
    consent = await grant_consent(
        step.db,
        step.state.settings,
        person_id=who.person_id,
        client_id=step.client.id,
        scopes=step.oauth_request.scope.split(),
        acr=who.acr,
        now=dt.datetime.now(dt.UTC),
    )
    return Grantee(
        person_id=who.person_id,
        consent_id=consent.id,
        acr=who.acr,
        auth_time=who.auth_time,
        consent_expires_at=consent.expires_at.timestamp(),
    )


async def _decide_consent(
    step: _Step, grant: Any, exchange: Exchange, pushed: bool
) -> Response[Any]:
    """Record the decision once per ticket: a ticket for another request, or used already,
    is refused (the citizen starts again)."""
    state, db, client, oauth_request = step.state, step.db, step.client, step.oauth_request
    ticket = state.tickets.read(step.form.get("ticket", ""), client.id, step.digest)
    if ticket is None:
        log.warning("login_ticket_refused", client_id=client.id)
        return _login_again(step, "the login expired or was for another request: start again")
    grantee = None
    async with db.transaction():
        expires_at = dt.datetime.fromtimestamp(ticket.expires_at, tz=dt.UTC)
        if await db.fetchval(sql("use_login_ticket"), ticket.jti, expires_at) is None:
            log.warning("login_ticket_replayed", client_id=client.id)
            return _login_again(step, "this login was already used: start again")
        if step.form.get("decision") == "accept":
            grantee = await _grant(step, ticket.who)
        answer = await state.server.run(
            given(db),
            exchange,
            lambda: state.server.create_authorization_response(
                oauth_request, grant_user=grantee, grant=grant
            ),
        )
        if pushed:
            await db.execute(
                sql("delete_pushed_request"),
                token_hash(
                    dict(oauth_request.payload.data).get("request_uri", "")
                    or step.form.get("request_uri", "")
                ),
            )
    log.info("consent_decided", client_id=client.id, accepted=grantee is not None)
    return oauth_response(answer)
