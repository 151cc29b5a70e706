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
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import msgspec
import structlog
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie

from cpa.auth.clients import find_client
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
)
from cpa.auth.principal import SCOPES
from cpa.auth.ratelimit import Quota
from cpa.auth.server import (
    AUTH_METHODS,
    Connect,
    CpaRequest,
    Exchange,
    Grantee,
    OAuthResponse,
    add_issuer,
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
    return parse_form(await request.body())


def _rate_limited(state: AuthState, exchange: Exchange) -> Quota | None:
    if exchange.client is None:
        return None
    return state.rate_limiter.hit(exchange.client.id, exchange.client.rate_limit_per_minute)


def _too_many(quota: Quota) -> Response[bytes]:
    body = {
        "error": "temporarily_unavailable",
        "error_description": "Too many requests: retry later.",
    }
    return Response(
        msgspec.json.encode(body),
        status_code=429,
        headers=quota.headers(),
        media_type="application/json",
    )


async def _client_endpoint(
    request: Request[Any, Any, Any],
    load: Loader,
    decide: Callable[[AuthState, CpaRequest], OAuthResponse],
    after: Callable[[AuthState, Exchange], None] | None = None,
) -> Response[bytes]:
    """Shared shape of /oauth/token, /introspect, /revoke: load, rate-limit, decide, write.

    A connection is taken from the pool only when a step needs one: a client-credentials
    token for a client loaded in the last seconds, with keys and revocations fresh, costs
    no round trip at all.
    """
    state = _state(request)
    try:
        pairs = await _read_form(request)
    except OAuth2Error as error:
        return _to_response(error_response(error))
    form = dict(pairs)
    oauth_request = _oauth_request(state, request, pairs)
    exchange = Exchange()
    async with AsyncExitStack() as stack:
        connect = lazy_connection(request.app.state.db, stack)
        if state.needs_database():  # first: the poll may drop a disabled client's row
            await state.refresh(connect)
        client_id = _claimed_client_id(request, form)
        if client_id:
            exchange.client = state.known_client(client_id) or await state.load_client(
                connect, client_id
            )
        quota = _rate_limited(state, exchange)
        if quota is not None and quota.exceeded:
            return _too_many(quota)
        if exchange.client is not None:
            request.scope["state"]["client_id"] = exchange.client.id
        await load(connect, exchange, form)
        answer = await state.server.run(connect, exchange, lambda: decide(state, oauth_request))
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
    elif grant_type == "refresh_token" and form.get("refresh_token"):
        db = await connect()
        exchange.refresh = await load_refresh(db, form["refresh_token"])
        row = exchange.refresh
        if (
            row is not None
            and row.used
            and exchange.client is not None
            and row.client_id == exchange.client.id
        ):
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


# -- login tickets: who logged in, bound to the CSRF cookie and the client ---------------------


def _sign(key: bytes, payload: bytes) -> str:
    return (
        base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest())
        .decode()
        .rstrip("=")
    )


def issue_ticket(state: AuthState, who: Authentication, client_id: str, csrf: str) -> str:
    payload = (
        f"{who.person_id}|{who.acr}|{who.auth_time}|{int(time.time()) + TICKET_LIFETIME_S}".encode()
    )
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return body + "." + _sign(state.ticket_key, f"{body}|{client_id}|{csrf}".encode())


def read_ticket(state: AuthState, ticket: str, client_id: str, csrf: str) -> Authentication | None:
    body, _, signature = ticket.partition(".")
    expected = _sign(state.ticket_key, f"{body}|{client_id}|{csrf}".encode())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        person, acr, auth_time, expires = (
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("|")
        )
        if int(expires) < time.time():
            return None
        return Authentication(person_id=UUID(person), acr=acr, auth_time=int(auth_time))
    except ValueError:
        return None


# -- the authorize endpoint -----------------------------------------------------------------


def _html(content: str, status: int = 200, cookie: Cookie | None = None) -> Response[str]:
    return Response(
        content,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=PAGE_HEADERS,
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
        try:
            async with request.app.state.db.acquire() as db:
                resolved, exchange, pushed = await _resolve_parameters(state, db, carried, lang)
                oauth_request = _oauth_request(state, request, resolved)
                grant = _validate(state, oauth_request, exchange, lang)
                assert exchange.client is not None
                if form.get("step") == "consent":
                    return await _decide_consent(
                        state, db, request, form, oauth_request, grant, exchange, pushed
                    )
                return await _login(state, db, form, exchange, carried, csrf, lang, oauth_request)
        except _Refused as refused:
            return refused.response


async def _login(
    state: AuthState,
    db: Connection,
    form: dict[str, str],
    exchange: Exchange,
    carried: list[tuple[str, str]],
    csrf: str,
    lang: Lang,
    oauth_request: CpaRequest,
) -> Response[Any]:
    assert exchange.client is not None
    client = exchange.client
    key = state.login.key_for(form)
    quota = state.login_limiter.hit(
        key, state.settings.login_attempts_per_window * 60 // state.settings.rate_limit_window_s
    )
    who = None if quota.exceeded else await state.login.authenticate(db, form)
    if who is None:
        log.info("login_failed", client_id=client.id, throttled=quota.exceeded)
        page = login_page(
            lang=lang,
            partner=client.name,
            fields=state.login.fields,
            carried=carried,
            csrf=csrf,
            error="too_many" if quota.exceeded else "bad_login",
        )
        return _html(page, 429 if quota.exceeded else 401)
    log.info("login_succeeded", client_id=client.id, acr=who.acr)
    scopes = oauth_request.scope.split()
    until = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=state.settings.consent_lifetime_days)
    ).date()
    page = consent_page(
        lang=lang,
        partner=client.name,
        kind=client.kind,
        scopes=[s for s in scopes if s in SCOPES],
        days=state.settings.consent_lifetime_days,
        until=until,
        carried=carried,
        csrf=csrf,
        ticket=issue_ticket(state, who, client.id, csrf),
    )
    return _html(page)


async def _decide_consent(
    state: AuthState,
    db: Connection,
    request: Request[Any, Any, Any],
    form: dict[str, str],
    oauth_request: CpaRequest,
    grant: Any,
    exchange: Exchange,
    pushed: bool,
) -> Response[Any]:
    assert exchange.client is not None
    client = exchange.client
    who = read_ticket(state, form.get("ticket", ""), client.id, form.get("csrf", ""))
    if who is None:
        return _html(
            error_page(
                lang="en" if form.get("lang") == "en" else "fr",
                detail="the login expired: start again",
            ),
            403,
        )
    grantee = None
    async with db.transaction():
        if form.get("decision") == "accept":
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
                    or form.get("request_uri", "")
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
