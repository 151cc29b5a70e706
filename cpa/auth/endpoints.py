"""The client endpoints of the OAuth server: token (RFC 6749 §3.2), introspection (RFC 7662),
revocation (RFC 7009) and pushed authorization requests (RFC 9126), one shape for all four
(:func:`_client_endpoint`: load, decide, write, count). They answer RFC 6749 error bodies,
never problem documents, and their bodies are never logged (they carry secrets and codes).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import unquote

import msgspec
import structlog
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error
from joserfc import jws
from joserfc.errors import JoseError
from litestar import Request, Response

from cpa.auth.crypto import new_token, token_hash
from cpa.auth.openapi import form_body, operation
from cpa.auth.ratelimit import Quota, address_key
from cpa.auth.responses import (
    AUTHORIZE_FIELDS,
    Introspection,
    PushedRequest,
    Revoked,
    TokenAnswer,
    auth_state,
    authlib_request,
    oauth_answer,
    oauth_errors,
    oauth_response,
    oauth_route,
)
from cpa.auth.scopes import KIND_GRANT_TYPES
from cpa.auth.server import (
    AUTH_METHODS,
    CodeRow,
    Connect,
    CpaRequest,
    Exchange,
    OAuthResponse,
    check_printable,
    current_exchange,
    error_response,
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

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
"""What a pushed request's ``request_uri`` starts with (RFC 9126 §2.2)."""
_FORM_TYPE = "application/x-www-form-urlencoded"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPES = sorted({grant for grants in KIND_GRANT_TYPES.values() for grant in grants})

Loader = Callable[[Connect, Exchange, dict[str, str]], Awaitable[None]]
"""Reads the rows Authlib will ask for into the exchange (connecting only if it must)."""


def _claimed_client_id(request: Request[Any, Any, Any], form: dict[str, str]) -> str | None:
    """Who the request says it is (verified later by Authlib): Basic, form, or assertion."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return unquote(base64.b64decode(value).decode().split(":", 1)[0])
        except (ValueError, UnicodeError):
            return None
    if form.get("client_assertion"):
        try:  # the assertion's subject, unverified: only to find the client's row and quota
            compact = jws.extract_compact(form["client_assertion"].encode())
            claims = msgspec.json.decode(compact.payload)
        except (JoseError, ValueError, UnicodeError, msgspec.DecodeError):
            return None
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) else None
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
    state = auth_state(request)
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
        return oauth_response(answer)
    decided = await _load_and_decide(request, state, exchange, pairs, load, decide)
    if isinstance(decided, Quota):
        return _too_many(decided)
    quota = _count(state, exchange, decided, address)
    if decided.status < 400 and after is not None:
        after(state, exchange)
    if decided.status >= 400:
        # Successes are told by the request line (route, status, client_id): one line each.
        log.info(
            "oauth_request_refused",
            endpoint=request.url.path,
            status=decided.status,
            error=decided.body.get("error") if isinstance(decided.body, dict) else None,
            client_id=exchange.client.id if exchange.client else None,
        )
    return oauth_response(decided, quota.headers() if quota else None)


async def _load_and_decide(
    request: Request[Any, Any, Any],
    state: AuthState,
    exchange: Exchange,
    pairs: list[tuple[str, str]],
    load: Loader,
    decide: Callable[[AuthState, CpaRequest], OAuthResponse],
) -> OAuthResponse | Quota:
    """Authlib's answer, on one connection at most; or the claimed client's spent quota."""
    form = dict(pairs)
    oauth_request = authlib_request(state, request, pairs)
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
            return quota
        if exchange.client is not None:
            request.scope["state"]["client_id"] = exchange.client.id
        await load(connect, exchange, form)
        answer = await state.server.run(connect, exchange, lambda: decide(state, oauth_request))
        replayed = _replayed_code(exchange)
        if replayed is not None:
            await _revoke_code_tokens(state, await connect(), replayed)
    return answer


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


async def _noop_load(connect: Connect, exchange: Exchange, form: dict[str, str]) -> None:
    return None


def _decide_par(state: AuthState, oauth_request: CpaRequest) -> OAuthResponse:
    """RFC 9126: authenticate the client, validate the request, queue it for storage."""
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
    current_exchange().writes.append(
        ("insert_pushed_request", (token_hash(uri), client.client.id, keep, expires), False)
    )
    return OAuthResponse(201, {"request_uri": uri, "expires_in": lifetime}, [])


_TEXT: dict[str, Any] = {"type": "string"}
CLIENT_FIELDS: dict[str, dict[str, Any]] = {
    "client_id": {**_TEXT, "description": "With client_secret_post or private_key_jwt."},
    "client_secret": {**_TEXT, "description": "client_secret_post (or HTTP Basic)."},
    "client_assertion": {**_TEXT, "description": "private_key_jwt (RFC 7523)."},
    "client_assertion_type": {"type": "string", "enum": [JWT_BEARER_ASSERTION]},
}
"""How a client authenticates in the form, when not with HTTP Basic (RFC 6749 §2.3)."""
TOKEN_FORM = form_body(
    {
        "grant_type": {"type": "string", "enum": list(GRANT_TYPES)},
        "code": {**_TEXT, "description": "authorization_code: the code of the redirect."},
        "redirect_uri": {**_TEXT, "description": "authorization_code: as in the request."},
        "code_verifier": {**_TEXT, "description": "authorization_code: the PKCE verifier."},
        "refresh_token": {**_TEXT, "description": "refresh_token: the last one issued."},
        "scope": {**_TEXT, "description": "client_credentials, refresh_token: narrower."},
        **CLIENT_FIELDS,
    },
    required=("grant_type",),
)
PRESENTED_FORM = form_body(
    {
        "token": {**_TEXT, "description": "An access or refresh token of this client."},
        "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        **CLIENT_FIELDS,
    },
    required=("token",),
)
_CLIENT_ERRORS = oauth_errors(400, 401, 429, 503)


@oauth_route(
    "POST",
    "/oauth/token",
    "postToken",
    "Token endpoint (RFC 6749 §3.2)",
    responses={**oauth_answer(TokenAnswer), **_CLIENT_ERRORS},
    operation_class=operation(body=TOKEN_FORM),
)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _client_endpoint(
        request, _load_grant, lambda state, r: state.server.create_token_response(r)
    )


async def _presented_token_endpoint(
    request: Request[Any, Any, Any],
    endpoint: str,
    after: Callable[[AuthState, Exchange], None] | None = None,
) -> Response[bytes]:
    """/introspect and /revoke: a client presents a token to Authlib's ``endpoint``."""
    return await _client_endpoint(
        request,
        _load_presented(auth_state(request)),
        lambda s, r: s.server.create_endpoint_response(endpoint, r),
        after,
    )


@oauth_route(
    "POST",
    "/oauth/introspect",
    "postIntrospect",
    "Token introspection (RFC 7662)",
    responses={**oauth_answer(Introspection), **_CLIENT_ERRORS},
    operation_class=operation(body=PRESENTED_FORM),
)
async def introspect(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _presented_token_endpoint(request, "introspection")


@oauth_route(
    "POST",
    "/oauth/revoke",
    "postRevoke",
    "Token revocation (RFC 7009)",
    responses={**oauth_answer(Revoked), **_CLIENT_ERRORS},
    operation_class=operation(body=PRESENTED_FORM),
)
async def revoke(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _presented_token_endpoint(request, "revocation", _apply_local_revocation)


@oauth_route(
    "POST",
    "/oauth/par",
    "postPushedAuthorizationRequest",
    "Pushed authorization request (RFC 9126)",
    201,
    responses={**oauth_answer(PushedRequest, 201), **_CLIENT_ERRORS},
    operation_class=operation(body=form_body({**AUTHORIZE_FIELDS, **CLIENT_FIELDS})),
)
async def par(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _client_endpoint(request, _noop_load, _decide_par)
