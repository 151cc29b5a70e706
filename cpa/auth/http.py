"""The OAuth 2 endpoints: metadata, JWKS, authorize (login + consent page), PAR, token,
introspection, revocation. They answer RFC 6749 error bodies, never problem documents, and
their bodies are never logged (they carry secrets, codes and NIRs).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import msgspec
import structlog
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie

from cpa.auth.clients import Client, find_client
from cpa.auth.consents import grant_consent
from cpa.auth.crypto import new_token, token_hash
from cpa.auth.login import Authentication
from cpa.auth.pages import (
    PAGE_HEADERS,
    Lang,
    carried_parameters,
    consent_page,
    error_page,
    language,
    login_page,
    text,
)
from cpa.auth.principal import SCOPES
from cpa.auth.ratelimit import Quota, address_key
from cpa.auth.server import (
    AUTH_METHODS,
    CodeRow,
    Connect,
    CpaRequest,
    Exchange,
    Grantee,
    OAuthResponse,
    add_issuer,
    check_printable,
    error_response,
    given,
    lazy_connection,
    load_access,
    load_code,
    load_refresh,
    parse_form,
)
from cpa.auth.state import AuthState
from cpa.db.database import Connection
from cpa.db.queries import sql

log = structlog.get_logger(__name__)

CSRF_COOKIE = "cpa_csrf"
TICKET_LIFETIME_S = 600
"""From the login to the consent decision."""
TICKET_TYPE = "cpa-login-ticket+jwt"
TICKET_ALGORITHM = "HS256"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
_FORM_TYPE = "application/x-www-form-urlencoded"

Loader = Callable[[Connect, Exchange, dict[str, str]], Awaitable[None]]
"""Reads the rows Authlib will ask for into the exchange (connecting only if it must)."""


def _state(request: Request[Any, Any, Any]) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


def _oauth_request(
    state: AuthState, request: Request[Any, Any, Any], pairs: list[tuple[str, str]]
) -> CpaRequest:
    headers = {"Authorization": request.headers.get("authorization", "")}
    return CpaRequest(request.method, state.issuer + request.url.path, headers, pairs)


def _to_response(answer: OAuthResponse, extra: dict[str, str] | None = None) -> Response[bytes]:
    headers = dict(answer.headers)
    headers.update(extra or {})
    headers["Cache-Control"] = "no-store"
    if answer.status in (301, 302, 303):
        return Response(b"", status_code=303, headers=headers)
    headers.pop("Content-Type", None)
    return Response(
        msgspec.json.encode(answer.body),
        status_code=answer.status,
        headers=headers,
        media_type="application/json",
    )


def _claimed_client_id(request: Request[Any, Any, Any], form: dict[str, str]) -> str | None:
    """Who the request says it is (verified later by Authlib): Basic, form, or assertion."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return unquote(base64.b64decode(value).decode().split(":", 1)[0])
        except (ValueError, UnicodeError):
            return None
    if form.get("client_assertion"):
        try:
            payload = form["client_assertion"].split(".")[1]
            claims = msgspec.json.decode(
                base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            )
            sub = claims.get("sub") if isinstance(claims, dict) else None
            return sub if isinstance(sub, str) else None
        except (IndexError, ValueError, msgspec.DecodeError):
            return None
    return form.get("client_id")


async def _read_form(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    if request.headers.get("content-type", "").split(";")[0].strip() != _FORM_TYPE:
        raise InvalidRequestError("the body must be application/x-www-form-urlencoded")
    pairs = parse_form(await request.body())
    check_printable(pairs)
    return pairs


def _client_quota(state: AuthState, exchange: Exchange) -> Quota | None:
    """The claimed client's quota, not counted: only its authenticated requests count."""
    if exchange.client is None:
        return None
    return state.rate_limiter.peek(exchange.client.id, exchange.client.rate_limit_per_minute)


def _address_failures_per_minute(state: AuthState) -> int:
    settings = state.settings
    return settings.client_auth_failures_per_address * 60 // settings.rate_limit_window_s


def _count(
    state: AuthState, exchange: Exchange, answer: OAuthResponse, address: str
) -> Quota | None:
    """Count the request against the client it authenticated as, or else against the caller's
    address: a stranger claiming a partner's (public) client id spends its own quota only."""
    client = exchange.client
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    if client is not None and exchange.authenticated and error != "invalid_client":
        return state.rate_limiter.hit(client.id, client.rate_limit_per_minute)
    state.client_auth_failures.hit(address, _address_failures_per_minute(state))
    return None  # a stranger is not told the client's quota


def _too_many(quota: Quota) -> Response[bytes]:
    body = {
        "error": "temporarily_unavailable",
        "error_description": "Too many requests: retry later.",
    }
    return Response(
        msgspec.json.encode(body),
        status_code=429,
        headers={**quota.headers(), "Cache-Control": "no-store"},
        media_type="application/json",
    )


async def _client_endpoint(
    request: Request[Any, Any, Any],
    load: Loader,
    decide: Callable[[AuthState, CpaRequest], OAuthResponse],
    after: Callable[[AuthState, Exchange], None] | None = None,
) -> Response[bytes]:
    """Shared shape of /oauth/token, /introspect, /revoke, /par: load, decide, write, count.

    A connection is taken from the pool only when a step needs one: a client-credentials
    token for a client loaded in the last seconds, with keys and revocations fresh, costs
    no round trip at all. An address over its failed-authentication quota is refused before
    anything (no query, no argon2).
    """
    state = _state(request)
    address = address_key(request.scope.get("client"))
    failures = state.client_auth_failures.peek(address, _address_failures_per_minute(state))
    if failures.exceeded:
        log.info("oauth_request_throttled", endpoint=request.url.path)
        return _too_many(failures)
    exchange = Exchange()
    try:
        pairs = await _read_form(request)
    except OAuth2Error as error:
        answer = error_response(error)
        _count(state, exchange, answer, address)
        return _to_response(answer)
    form = dict(pairs)
    oauth_request = _oauth_request(state, request, pairs)
    async with AsyncExitStack() as stack:
        connect = lazy_connection(request.app.state.db, stack)
        if state.needs_database():  # first: the poll may drop a disabled client's row
            await state.refresh(connect)
        client_id = _claimed_client_id(request, form)
        if client_id:
            exchange.client = state.known_client(client_id) or await state.load_client(
                connect, client_id
            )
        quota = _client_quota(state, exchange)
        if quota is not None and quota.exceeded:
            return _too_many(quota)
        if exchange.client is not None:
            request.scope["state"]["client_id"] = exchange.client.id
        await load(connect, exchange, form)
        answer = await state.server.run(connect, exchange, lambda: decide(state, oauth_request))
        replayed = _replayed_code(exchange)
        if replayed is not None:
            await _revoke_code_tokens(state, await connect(), replayed)
    quota = _count(state, exchange, answer, address)
    if answer.status < 400 and after is not None:
        after(state, exchange)
    if answer.status >= 400:
        # Successes are told by the request line (route, status, client_id): one line each.
        log.info(
            "oauth_request_refused",
            endpoint=request.url.path,
            status=answer.status,
            error=answer.body.get("error") if isinstance(answer.body, dict) else None,
            client_id=exchange.client.id if exchange.client else None,
        )
    return _to_response(answer, quota.headers() if quota else None)


# -- loaders -------------------------------------------------------------------------------


async def _load_grant(connect: Connect, exchange: Exchange, form: dict[str, str]) -> None:
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code" and form.get("code"):
        exchange.code = await load_code(await connect(), form["code"])
    else:
        await _load_refresh(connect, exchange, form)


def _replayed_code(exchange: Exchange) -> CodeRow | None:
    """The used code its own client, authenticated, presented again (None otherwise)."""
    code = exchange.code
    if code is None or not code.used or not exchange.authenticated:
        return None
    return code if _claimed_by(exchange, code.client_id) else None


def _claimed_by(exchange: Exchange, client_id: str) -> bool:
    return exchange.client is not None and exchange.client.id == client_id


async def _revoke_code_tokens(state: AuthState, db: Connection, code: CodeRow) -> None:
    """A used code came back from its client, authenticated (RFC 6749 §4.1.2): someone holds
    a copy. What its first exchange issued is revoked: the refresh family, and the access
    token by jti (every worker's guard polls the feed; this one knows at once). A stranger
    without the client's credentials cannot revoke anything with it."""
    async with db.transaction():
        if code.issued_family_id is not None:
            await db.execute(sql("revoke_refresh_token_family"), code.issued_family_id)
        expires_at = code.issued_access_expires_at
        if code.issued_jti is not None and expires_at is not None and expires_at > time.time():
            await db.execute(
                sql("insert_token_revocation"),
                code.issued_jti,
                dt.datetime.fromtimestamp(expires_at, tz=dt.UTC),
            )
            state.revocations.add_jti(code.issued_jti, expires_at)
    log.warning("authorization_code_replayed", client_id=code.client_id)


async def _load_refresh(connect: Connect, exchange: Exchange, form: dict[str, str]) -> None:
    grant_type = form.get("grant_type")
    if grant_type == "refresh_token" and form.get("refresh_token"):
        db = await connect()
        exchange.refresh = await load_refresh(db, form["refresh_token"])
        row = exchange.refresh
        if row is not None and row.used and _claimed_by(exchange, row.client_id):
            # A rotated refresh token came back: someone holds a copy. Kill the family.
            await db.execute(sql("revoke_refresh_token_family"), row.family_id)
            log.warning("refresh_token_replayed", client_id=row.client_id)


def _load_presented(state: AuthState) -> Loader:
    async def load(connect: Connect, exchange: Exchange, form: dict[str, str]) -> None:
        token = form.get("token", "")
        if token.count(".") == 2:
            exchange.access = load_access(state.codec, token, state.revocations.is_revoked)
        elif token:
            exchange.refresh = await load_refresh(await connect(), token)

    return load


def _apply_local_revocation(state: AuthState, exchange: Exchange) -> None:
    if exchange.access is not None:
        claims = exchange.access.claims
        state.revocations.add_jti(str(claims["jti"]), float(claims["exp"]))


# -- login tickets: who logged in, bound to the exact request, the CSRF cookie; used once ------


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    who: Authentication
    jti: str
    expires_at: float


def request_digest(pairs: list[tuple[str, str]], csrf: str) -> str:
    """What a ticket is bound to: the authorization request's parameters as carried by the
    form and as resolved (a pushed request's stored ones), and the CSRF cookie."""
    canonical = msgspec.json.encode([sorted(set(pairs)), csrf])
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


def issue_ticket(state: AuthState, who: Authentication, client_id: str, digest: str) -> str:
    """A signed JWT (HS256, a key derived for tickets only) naming who logged in."""
    now = int(time.time())
    claims = {
        "iss": state.issuer,
        "aud": client_id,
        "sub": str(who.person_id),
        "acr": who.acr,
        "auth_time": who.auth_time,
        "req": digest,
        "jti": new_token(16),
        "iat": now,
        "exp": now + TICKET_LIFETIME_S,
    }
    header = {"alg": TICKET_ALGORITHM, "typ": TICKET_TYPE}
    return jwt.encode(header, claims, OctKey.import_key(state.ticket_key))


def read_ticket(state: AuthState, ticket: str, client_id: str, digest: str) -> Ticket | None:
    """The ticket's login when it is ours, live, and for this very request (not yet known to
    be unused: the consent's transaction records its use)."""
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": state.issuer},
        aud={"essential": True, "value": client_id},
        req={"essential": True, "value": digest},
        sub={"essential": True},
        jti={"essential": True},
        exp={"essential": True},
    )
    try:
        token = jwt.decode(ticket, OctKey.import_key(state.ticket_key), [TICKET_ALGORITHM])
        if token.header.get("typ") != TICKET_TYPE:
            return None
        registry.validate(token.claims)
        claims = token.claims
        who = Authentication(
            person_id=UUID(str(claims["sub"])),
            acr=str(claims["acr"]),
            auth_time=int(claims["auth_time"]),
        )
    except (JoseError, ValueError, KeyError, TypeError):
        return None
    return Ticket(who=who, jti=str(claims["jti"]), expires_at=float(claims["exp"]))


# -- the authorize endpoint -----------------------------------------------------------------


def _html(
    content: str,
    status: int = 200,
    cookie: Cookie | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        content,
        status_code=status,
        media_type="text/html; charset=utf-8",
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
        max_age=3600,
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
    from cpa.auth.server import _EXCHANGE

    token = _EXCHANGE.set(exchange)
    try:
        return state.server.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        if error.redirect_uri:
            error.state = oauth_request.payload.state
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
    finally:
        _EXCHANGE.reset(token)


class OAuthController(Controller):
    path = "/oauth"
    tags = ("oauth",)
    include_in_schema = True

    @get("/jwks", operation_id="getJwks", summary="Public keys that sign access tokens (RFC 7517)")
    async def jwks(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        state = _state(request)
        if state.keys.stale():
            async with request.app.state.db.acquire() as db:
                await state.keys.refresh(db)
        return Response(
            msgspec.json.encode(state.keys.public_jwks),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "max-age=60"},
        )

    @post(
        "/token",
        operation_id="postToken",
        summary="Token endpoint (RFC 6749 §3.2)",
        status_code=200,
    )
    async def token(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return await _client_endpoint(
            request, _load_grant, lambda state, r: state.server.create_token_response(r)
        )

    @post(
        "/introspect",
        operation_id="postIntrospect",
        summary="Token introspection (RFC 7662)",
        status_code=200,
    )
    async def introspect(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        state = _state(request)
        return await _client_endpoint(
            request,
            _load_presented(state),
            lambda s, r: s.server.create_endpoint_response("introspection", r),
        )

    @post(
        "/revoke", operation_id="postRevoke", summary="Token revocation (RFC 7009)", status_code=200
    )
    async def revoke(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        state = _state(request)
        return await _client_endpoint(
            request,
            _load_presented(state),
            lambda s, r: s.server.create_endpoint_response("revocation", r),
            _apply_local_revocation,
        )

    @post(
        "/par",
        operation_id="postPushedAuthorizationRequest",
        summary="Pushed authorization request (RFC 9126)",
        status_code=201,
    )
    async def par(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return await _client_endpoint(request, _noop_load, _decide_par)

    @get("/authorize", operation_id="getAuthorize", summary="Login and consent page (HTML)")
    async def authorize_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        state = _state(request)
        pairs = list(request.query_params.multi_items())
        lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
        pairs = [(k, v) for k, v in pairs if k != "lang"]
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        try:
            async with request.app.state.db.acquire() as db:
                resolved, exchange, _ = await _resolve_parameters(state, db, pairs, lang)
            _validate(state, _oauth_request(state, request, resolved), exchange, lang)
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

    @post(
        "/authorize",
        operation_id="postAuthorize",
        summary="Login and consent decisions (HTML form)",
        status_code=200,
    )
    async def authorize_decide(self, request: Request[Any, Any, Any]) -> Response[Any]:
        state = _state(request)
        form_pairs = parse_form(await request.body())
        form = dict(form_pairs)
        lang: Lang = "en" if form.get("lang") == "en" else "fr"
        csrf = form.get("csrf", "")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not csrf or not hmac.compare_digest(csrf.encode(), cookie.encode()):
            log.warning("authorize_csrf_refused")
            return _html(
                error_page(
                    lang=lang, detail="the form expired or was not sent from this page: start again"
                ),
                403,
            )
        carried = carried_parameters(form)
        logging_in = form.get("step") != "consent"
        address, nir_key = address_key(request.scope.get("client")), state.login.key_for(form)
        if logging_in:  # before any query: a refused attempt costs next to nothing
            wait_s = state.login_throttle.refusal(nir_key, address)
            if wait_s is not None:
                log.info("login_failed", client_id=form.get("client_id", "")[:64], throttled=True)
                return _too_many_logins(lang, wait_s)
        try:
            async with request.app.state.db.acquire() as db:
                resolved, exchange, pushed = await _resolve_parameters(state, db, carried, lang)
                oauth_request = _oauth_request(state, request, resolved)
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


def _too_many_logins(lang: Lang, wait_s: int) -> Response[Any]:
    """Refused before any query or hashing: the page says when to come back."""
    page = error_page(lang=lang, detail=text("too_many", lang))
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
        ticket=issue_ticket(state, who, client.id, step.digest),
    )
    return _html(page)


def _login_again(step: _Step, detail: str) -> Response[Any]:
    return _html(error_page(lang=step.lang, detail=detail), 403)


async def _decide_consent(
    step: _Step, grant: Any, exchange: Exchange, pushed: bool
) -> Response[Any]:
    """Record the decision once per ticket: a ticket for another request, or used already,
    is refused (the citizen starts again)."""
    state, db, client, oauth_request = step.state, step.db, step.client, step.oauth_request
    ticket = read_ticket(state, step.form.get("ticket", ""), client.id, step.digest)
    if ticket is None:
        log.warning("login_ticket_refused", client_id=client.id)
        return _login_again(step, "the login expired or was for another request: start again")
    who = ticket.who
    grantee = None
    async with db.transaction():
        expires_at = dt.datetime.fromtimestamp(ticket.expires_at, tz=dt.UTC)
        if await db.fetchval(sql("use_login_ticket"), ticket.jti, expires_at) is None:
            log.warning("login_ticket_replayed", client_id=client.id)
            return _login_again(step, "this login was already used: start again")
        if step.form.get("decision") == "accept":
            consent = await grant_consent(
                db,
                state.settings,
                person_id=who.person_id,
                client_id=client.id,
                scopes=oauth_request.scope.split(),
                acr=who.acr,
                now=dt.datetime.now(dt.UTC),
            )
            grantee = Grantee(
                person_id=who.person_id,
                consent_id=consent.id,
                acr=who.acr,
                auth_time=who.auth_time,
                consent_expires_at=consent.expires_at.timestamp(),
            )
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
    return _to_response(answer)


async def _noop_load(connect: Connect, exchange: Exchange, form: dict[str, str]) -> None:
    return None


def _decide_par(state: AuthState, oauth_request: CpaRequest) -> OAuthResponse:
    """RFC 9126: authenticate the client, validate the request, queue it for storage."""
    from cpa.auth.server import _exchange

    try:
        client = state.server.authenticate_client(oauth_request, AUTH_METHODS, "par")
        data = oauth_request.payload.data
        if "request_uri" in data:
            raise InvalidRequestError("request_uri is not allowed in a pushed request")
        if data.get("client_id") not in (None, client.client.id):
            raise InvalidClientError(
                description="client_id does not match the authenticated client"
            )
        oauth_request.payload.data["client_id"] = client.client.id
        oauth_request.payload.datalist["client_id"] = [client.client.id]
        state.server.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        error.redirect_uri = None  # PAR answers the client directly, never redirects
        return error_response(error)
    uri = REQUEST_URI_PREFIX + new_token()
    keep = [
        (k, v)
        for k, values in oauth_request.payload.datalist.items()
        for v in values
        if k not in ("client_secret", "client_assertion", "client_assertion_type")
    ]
    lifetime = state.settings.pushed_request_lifetime_s
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
    _exchange().writes.append(
        ("insert_pushed_request", (token_hash(uri), client.client.id, keep, expires), False)
    )
    return OAuthResponse(201, {"request_uri": uri, "expires_in": lifetime}, [])


@get(
    "/.well-known/oauth-authorization-server",
    operation_id="getAuthorizationServerMetadata",
    summary="Authorization server metadata (RFC 8414)",
    tags=["oauth"],
)
async def authorization_server_metadata(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = _state(request)
    issuer = state.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/oauth/authorize",
        "token_endpoint": issuer + "/oauth/token",
        "pushed_authorization_request_endpoint": issuer + "/oauth/par",
        "require_pushed_authorization_requests": state.settings.par_required_for_portals,
        "introspection_endpoint": issuer + "/oauth/introspect",
        "revocation_endpoint": issuer + "/oauth/revoke",
        "jwks_uri": issuer + "/oauth/jwks",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "PS256", "RS256"],
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "authorization_response_iss_parameter_supported": True,
        "access_token_signing_alg_values_supported": ["ES256"],
        "ui_locales_supported": ["fr", "en"],
    }
