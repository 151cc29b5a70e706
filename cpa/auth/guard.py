"""The resource guard: every ``/v1`` route is refused unless a valid token grants it.

Installed app-wide (``TokenGuardMiddleware``), it applies to every handler whose path
starts with ``/v1/``: a route that forgets to declare its scopes is refused (fail closed),
never left open. A handler declares what it needs with :func:`requires` and receives the
verified :class:`~cpa.auth.principal.Principal` as the ``principal`` dependency.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from cpa.auth.clients import Client
from cpa.auth.errors import (
    InsufficientScope,
    NotAPersonToken,
    RateLimited,
    Unauthorized,
    WrongClientKind,
)
from cpa.auth.principal import ClientKind, Principal
from cpa.auth.ratelimit import SCOPE_KEY, Quota
from cpa.auth.scopes import SCOPES
from cpa.auth.server import lazy_connection
from cpa.auth.state import AuthState
from cpa.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger(__name__)

GUARDED_PREFIX = "/v1/"
PERSON_PREFIX = "/v1/me"
PRINCIPAL_KEY = "cpa_principal"
_OPT_KEY = "cpa_auth"
_PUBLIC_KEY = "cpa_public"


def public() -> dict[str, Any]:
    """Route ``opt`` of a ``/v1`` route that touches no person's data and needs no token
    (``POST /v1/simulations``: hypothetical careers only); anything else is guarded."""
    return {_PUBLIC_KEY: True}


def requires(
    *scopes: str, person: bool = True, kinds: tuple[ClientKind, ...] | None = None
) -> dict[str, Any]:
    """Route ``opt`` for the guard: the scopes the token must hold (all of them), whether it
    must act for a person (consent token; always so under ``/v1/me``), and optionally which
    kinds of client may call. ``@get("/v1/me/account", opt=requires("account:read"))``.
    """
    unknown = [s for s in scopes if s not in SCOPES]
    assert not unknown, f"unknown scopes {unknown}"
    return {_OPT_KEY: {"scopes": frozenset(scopes), "person": person, "kinds": kinds}}


def is_public(handler: BaseRouteHandler) -> bool:
    return bool(handler.opt.get(_PUBLIC_KEY))


def _declared(handler: BaseRouteHandler) -> dict[str, Any] | None:
    declared: dict[str, Any] | None = handler.opt.get(_OPT_KEY)
    return declared


def _authorization(scope: Any) -> str:
    # The raw ASGI headers: building Litestar's Headers mapping parses every header, and
    # measured a fifth of the guard's cost.
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


def _state(scope: Any) -> Any:
    """The app's state (the guard works on the ASGI scope: building Litestar's connection
    object for it was a third of its cost)."""
    return scope["litestar_app"].state


def _bearer(scope: Any) -> str:
    header = _authorization(scope)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send an access token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="cpa"'},
        )
    return token.strip()


async def authenticate(scope: Any) -> Principal:
    """The verified principal of this request's bearer token (cached after the first use)."""
    state: AuthState = _state(scope).auth
    token = _bearer(scope)
    principal = state.cached_principal(token)
    if principal is not None and not state.needs_database():
        client = state.cached_client(principal.client_id)
        if client is not False:
            return _alive(state, principal, client)
    async with AsyncExitStack() as stack:
        connect = lazy_connection(_state(scope).db, stack)
        await state.refresh(connect)
        if principal is None:
            principal = await state.verify_bearer(await connect(), token)
        client = state.cached_client(principal.client_id)
        if client is False:
            client = await state.load_client(connect, principal.client_id)
    return _alive(state, principal, client)


def _alive(state: AuthState, principal: Principal, client: Any) -> Principal:
    if client is None or client.disabled:
        raise Unauthorized("the client is disabled", headers=_invalid())
    if state.is_revoked(principal):
        raise Unauthorized("the token was revoked", headers=_invalid())
    return principal


def _invalid() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _check(principal: Principal, declared: dict[str, Any], path: str) -> None:
    missing = declared["scopes"] - principal.scopes
    if missing:
        needed = " ".join(sorted(declared["scopes"]))
        raise InsufficientScope(
            f"this route needs the scopes: {' '.join(sorted(missing))}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )
    needs_person = (
        declared["person"] or path == PERSON_PREFIX or path.startswith(PERSON_PREFIX + "/")
    )
    if needs_person and principal.person_id is None:
        raise NotAPersonToken()
    kinds = declared["kinds"]
    if kinds is not None and principal.client_kind not in kinds:
        raise WrongClientKind(f"reserved to: {', '.join(kinds)}")


def _rate_limit(scope: Any, state: AuthState, principal: Principal, limit: int) -> None:
    quota = state.rate_limiter.hit(principal.client_id, limit)
    scope["state"][SCOPE_KEY] = quota
    if quota.exceeded:
        raise RateLimited(headers=quota.headers())


async def require_token(scope: Any, handler: BaseRouteHandler) -> None:
    """The guard of one request (a no-op outside ``/v1/``), on its ASGI scope."""
    path: str = scope["path"]
    if not path.startswith(GUARDED_PREFIX) or is_public(handler):
        return
    if scope["method"] == "OPTIONS":
        return  # Litestar's own answer: 204 with Allow, which says nothing of anyone's data
    declared = _declared(handler)
    if declared is None:
        log.error("route_without_scopes", route=scope.get("path_template"))
        raise InsufficientScope("this route declares no scopes: refused")
    principal = await authenticate(scope)
    scope["state"]["client_id"] = principal.client_id
    state: AuthState = _state(scope).auth
    client = state.cached_client(principal.client_id)
    assert isinstance(client, Client), "authenticate() leaves the client cached"
    _rate_limit(scope, state, principal, client.rate_limit_per_minute)
    _check(principal, declared, path)
    scope["state"][PRINCIPAL_KEY] = principal


class TokenGuardMiddleware:
    """``require_token`` as route middleware rather than a Litestar guard: Litestar copies the
    route handler on every guarded request (measured: a third of the guard's cost). The
    route handler is already resolved when route middleware runs, and what it raises is
    answered by the app's exception handlers, as a guard's would be."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GUARDED_PREFIX):
            await require_token(scope, scope["route_handler"])
        await self.app(scope, receive, send)


def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The ``principal`` dependency: what ``require_token`` verified for this request."""
    principal: Principal | None = request.scope["state"].get(PRINCIPAL_KEY)
    if principal is None:  # a handler outside /v1 asked for a principal: never hand one out
        raise Unauthorized()
    return principal


async def add_rate_limit_headers(message: Any, scope: Any) -> None:
    """``before_send`` hook: RateLimit-* headers on answers to rate-limited clients."""
    # Typed Any: Litestar's hook signature names its own TypedDicts, cpa.types the ASGI ones.
    if message["type"] != "http.response.start":
        return
    quota: Quota | None = scope.get("state", {}).get(SCOPE_KEY)
    if quota is None or quota.exceeded:  # a 429 carries them already
        return
    message["headers"] = [
        *message.get("headers", ()),
        *((k.lower().encode(), v.encode()) for k, v in quota.headers().items()),
    ]
