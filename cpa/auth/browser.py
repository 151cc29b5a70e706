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
from uuid import UUID

import structlog
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec

from cpa.auth.clients import Client, find_client
from cpa.auth.consents import active_consents, covering_consent, grant_consent, granted_scopes
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
    logout_page,
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


def _session_cookie(state: AuthState, token: str, max_age_s: int) -> Cookie:
    """The browser session's cookie (:mod:`cpa.auth.sessions` says why these attributes);
    an empty token with no age clears it."""
    return Cookie(
        key=state.sessions.cookie_name,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=state.sessions.secure,
        max_age=max_age_s,
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


PROMPTS = frozenset({"none", "login", "consent", "select_account"})
"""OpenID Connect Core §3.1.2.1: ``none`` (answer without any page, or an error), ``login``
(log in again even with a session), ``consent`` (ask again even with a covering consent);
``select_account`` is accepted and changes nothing (one account per citizen)."""


def _prompts(state: AuthState, oauth_request: CpaRequest) -> frozenset[str]:
    """The request's ``prompt`` values; a redirect with ``invalid_request`` when unknown, or
    when ``none`` comes with another (OIDC Core §3.1.2.1)."""
    prompts = frozenset(oauth_request.payload.data.get("prompt", "").split())
    if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
        raise _Refused(
            _redirect_error(
                state, oauth_request, "invalid_request", "prompt takes none alone, or login, "
                "consent and select_account",
            )
        )  # fmt: skip
    return prompts


def _redirect_error(
    state: AuthState, oauth_request: CpaRequest, error: str, description: str
) -> Response[Any]:
    """An error sent to the client's redirect URI (validated by Authlib before any call
    here), with its ``state`` and our ``iss`` (RFC 9207)."""
    payload = oauth_request.payload
    params = {"error": error, "error_description": description}
    if payload.state:
        params["state"] = payload.state
    location = add_issuer(str(add_params_to_uri(payload.redirect_uri, params)), state.issuer)
    return Response(
        b"", status_code=303, headers={"Location": location, "Cache-Control": "no-store"}
    )


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
    """The login page; or, with a live session, the consent page for what the client asks
    beyond the citizen's active consents; or, when one of them covers the request, straight
    back to the client with a code (no page at all). ``prompt`` forces or forbids pages."""
    state = auth_state(request)
    pairs = list(request.query_params.multi_items())
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    pairs = [(k, v) for k, v in pairs if k != "lang"]
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    carried = carried_parameters(dict(pairs))
    try:
        async with request.app.state.db.acquire() as db:
            step = await _step(state, request, db, pairs, {}, lang, csrf)
            who = None
            if "login" not in step.prompts:
                session = request.cookies.get(state.sessions.cookie_name)
                who = await state.sessions.resume(db, session, dt.datetime.now(dt.UTC))
            if who is not None:
                response = await _logged_in(step, who)
                response.set_cookie(_csrf_cookie(state, csrf))
                return response
    except _Refused as refused:
        return refused.response
    if "none" in step.prompts:
        return _redirect_error(state, step.oauth_request, "login_required", "not logged in")
    page = login_page(
        lang=lang, partner=step.client.name, fields=state.login.fields, carried=carried, csrf=csrf
    )
    return _html(page, cookie=_csrf_cookie(state, csrf))


async def _step(
    state: AuthState,
    request: Request[Any, Any, Any],
    db: Connection,
    pairs: list[tuple[str, str]],
    form: dict[str, str],
    lang: Lang,
    csrf: str,
) -> _Step:
    """The authorization request as given (``pairs``: the query, or the form's carried
    parameters), resolved (PAR) and validated by Authlib; refused as a page or a redirect.
    The login ticket's digest is the same from the page and from its form: the parameters
    the form carries, and the pushed ones (a query's other parameters are not carried)."""
    carried = carried_parameters(dict(pairs))
    resolved, exchange, pushed = await _resolve_parameters(state, db, pairs, lang)
    oauth_request = authlib_request(state, request, resolved)
    grant = _validate(state, oauth_request, exchange, lang)
    assert exchange.client is not None
    return _Step(
        state=state,
        db=db,
        form=form,
        client=exchange.client,
        carried=carried,
        csrf=csrf,
        lang=lang,
        oauth_request=oauth_request,
        digest=request_digest(carried + (resolved if pushed else carried), csrf),
        grant=grant,
        exchange=exchange,
        pushed=pushed,
        prompts=_prompts(state, oauth_request),
    )


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
            step = await _step(state, request, db, carried, form, lang, csrf)
            if not logging_in:
                return await _decide_consent(step)
            return await _login(step, nir_key, address)
    except _Refused as refused:
        return refused.response


@oauth_route(
    "POST",
    "/oauth/logout",
    "postLogout",
    "End the citizen's session (HTML form)",
    description="Sent by the consent page's sign-out button, never by a partner.",
    responses={200: _page("The signed-out page."), **oauth_errors(503)},
)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """The session ends for every copy of its cookie; the next authorization asks to log in.
    No CSRF token: the cookie is ``SameSite=Lax``, so another site's form posts without it."""
    state = auth_state(request)
    form = dict(parse_form(await request.body()))
    lang: Lang = "en" if form.get("lang") == "en" else "fr"
    async with request.app.state.db.acquire() as db:
        await state.sessions.end(db, request.cookies.get(state.sessions.cookie_name))
    log.info("browser_session_ended")
    return _html(logout_page(lang=lang), cookie=_session_cookie(state, "", 0))


@dataclass(frozen=True, kw_only=True)
class _Step:
    """One request to the authorize endpoint: what the login and the consent steps both need."""

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
    grant: Any
    """Authlib's grant, validated (:func:`_validate`)."""
    exchange: Exchange
    pushed: bool
    """The request was pushed (PAR): its stored row goes once a code is issued."""
    prompts: frozenset[str]

    @property
    def scopes(self) -> list[str]:
        return list(dict.fromkeys(self.oauth_request.scope.split()))


def _too_many_logins(lang: Lang, wait_s: int, carried: list[tuple[str, str]]) -> Response[Any]:
    """Refused before any query or hashing: the page says when to come back."""
    page = error_page(lang=lang, reason="too_many", wait_s=wait_s, restart=carried)
    return _html(page, 429, headers={"Retry-After": str(wait_s)})


async def _login(step: _Step, nir_key: str, address: str) -> Response[Any]:
    """Check the credentials (the throttle has let this attempt through); count a failure.
    A success opens the browser session, then goes on as a request with a session does."""
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
    token = await state.sessions.open(step.db, who, dt.datetime.now(dt.UTC))
    response = await _logged_in(step, who)
    response.set_cookie(_session_cookie(state, token, state.settings.browser_session_lifetime_s))
    return response


async def _logged_in(step: _Step, who: Authentication) -> Response[Any]:
    """The citizen is known: an active consent covering the request is reused (a code, no
    page) unless ``prompt=consent``; otherwise the consent page asks for what the active
    consents do not already grant (``prompt=none``: ``consent_required`` instead)."""
    state = step.state
    active = await active_consents(
        step.db, state.settings, person_id=who.person_id, client_id=step.client.id,
        now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    covering = covering_consent(active, step.scopes)
    if covering is not None and "consent" not in step.prompts:
        log.info("consent_reused", client_id=step.client.id)
        return await _issue(step, _grantee(who, covering.id, covering.expires_at))
    if "none" in step.prompts:
        return _redirect_error(
            state, step.oauth_request, "consent_required", "the citizen has not consented to this"
        )
    granted = set() if "consent" in step.prompts else granted_scopes(active)
    return _consent_page(step, who, granted)


def _consent_page(step: _Step, who: Authentication, granted: set[str]) -> Response[Any]:
    """What the client asks beyond ``granted`` (all of it with ``prompt=consent``)."""
    state, client = step.state, step.client
    asked = [s for s in step.scopes if s in SCOPES]
    until = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=state.settings.consent_lifetime_days)
    ).date()
    page = consent_page(
        lang=step.lang,
        partner=client.name,
        kind=client.kind,
        scopes=[s for s in asked if s not in granted],
        granted=[s for s in asked if s in granted],
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


def _grantee(who: Authentication, consent_id: UUID, expires_at: dt.datetime) -> Grantee:
    return Grantee(
        person_id=who.person_id,
        consent_id=consent_id,
        acr=who.acr,
        auth_time=who.auth_time,
        consent_expires_at=expires_at.timestamp(),
    )


async def _grant(step: _Step, who: Authentication) -> Grantee:
    """The citizen accepted: the consent is recorded, the code will act for it."""
    consent = await grant_consent(
        step.db,
        step.state.settings,
        person_id=who.person_id,
        client_id=step.client.id,
        scopes=step.scopes,
        acr=who.acr,
        now=dt.datetime.now(dt.UTC),
    )
    return _grantee(who, consent.id, consent.expires_at)


async def _issue(step: _Step, grantee: Grantee | None) -> Response[Any]:
    """Authlib's answer to the client: a code for ``grantee``, or ``access_denied`` (None).
    A pushed request is used up with it."""
    state, db, oauth_request = step.state, step.db, step.oauth_request
    async with db.transaction():
        answer = await state.server.run(
            given(db),
            step.exchange,
            lambda: state.server.create_authorization_response(
                oauth_request, grant_user=grantee, grant=step.grant
            ),
        )
        if step.pushed:
            await db.execute(
                sql("delete_pushed_request"),
                token_hash(
                    dict(oauth_request.payload.data).get("request_uri", "")
                    or step.form.get("request_uri", "")
                    or dict(step.carried).get("request_uri", "")
                ),
            )
    return oauth_response(answer)


async def _decide_consent(step: _Step) -> Response[Any]:
    """Record the decision once per ticket: a ticket for another request, or used already,
    is refused (the citizen starts again)."""
    state, db, client = step.state, step.db, step.client
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
        response = await _issue(step, grantee)
    log.info("consent_decided", client_id=client.id, accepted=grantee is not None)
    return response
