"""Partner access: cpa's OAuth 2 authorization server (Authlib), the resource guard, consents,
pairwise subjects, advisor lookups, rate limits and the citizen's access journal (issue 4).

Standards: OAuth 2.0 (RFC 6749) with PKCE S256 only (RFC 7636), JWT access tokens
(RFC 9068, ES256, 5 minutes), private_key_jwt client authentication (RFC 7523), PAR
(RFC 9126), introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414), ``iss`` in
authorization responses (RFC 9207) — aiming at the FAPI 2.0 security profile.

Modules, the core (no web framework): ``scopes`` (every scope, in one place), ``principal``
(who is calling), ``clients`` (registry), ``crypto`` (hashes, HKDF-derived keys), ``keys``
(signing keys), ``tokens`` (JWT codec), ``tickets`` (login tickets), ``server`` (Authlib
integration: load → decide → write), ``login`` (login behind an interface), ``consents``,
``state`` (the caches of one process), ``journal``, ``advisor``, ``ratelimit``,
``revocation``, ``expiry``, ``settings``, ``errors``.
The web part (Litestar): ``endpoints`` (token, introspection, revocation, PAR),
``browser`` (authorize: login and consent), ``pages`` + ``templates/`` (the HTML pages,
Jinja2), ``metadata`` (RFC 8414 metadata, JWKS), ``responses`` (what their handlers share),
``guard`` (the resource guard). Its entry points live with the others: ``cpa.cli.auth``
(``python -m cpa clients|keys``), ``cpa.demo.auth``.

Protecting a route (every handler under ``/v1/`` is refused unless it declares its needs)::

    from cpa.auth import Principal, requires

    @get("/v1/me/account", operation_id="getMyAccount", opt=requires("account:read"))
    async def my_account(call: Caller) -> Account:
        async with call.db.acquire() as db:
            account = await load_account(db, call.person_id)
            await call.journal_read(db, "/v1/me/account")
        return account

- ``requires(*scopes, person=True, kinds=None)`` builds the route's ``opt``: all the scopes
  must be in the token; ``person=True`` (always so under ``/v1/me``) demands a token issued
  with a person's consent; ``kinds`` restricts the client kinds (``("training_body",)``).
- ``call: Caller`` (``cpa.api.call``, a dependency registered app-wide) holds the request
  and its ``principal``, the verified token: ``person_id`` (None for machine tokens),
  ``client_id``, ``client_kind``, ``scopes``, ``consent_id``. Under ``/v1/me`` use
  ``call.person_id`` only: never take a person from the path or the body.
- Reads hand their access journal line to ``read_access_log(request)`` (a ``ReadAccessLog``,
  written in batches; ``call.journal_read``); changes call ``record_access(db, principal,
  route=…, action="change")`` on the connection of their own transaction
  (``cpa.auth.access_log`` says why).
- Advisor routes ``/v1/advisor/persons/{ref}/…``: ``requires("advisor:read", person=False,
  kinds=("advisor_tool",))``, then ``advisor = await resolve_person_ref(db, principal, ref)``
  gives a principal narrowed to that person, with ``advisor_id`` and ``purpose`` for the
  journal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # also what import-linter reads of this face: every module it resolves
    from litestar.types import ControllerRouterHandler

    from cpa.auth import browser, endpoints, metadata  # noqa: F401  (the route handlers)
    from cpa.auth.access_log import (
        AccessEntry,
        ReadAccessLog,
        access_log_fields,
        list_access,
        read_access_log,
        record_access,
    )
    from cpa.auth.advisor import PURPOSES, Lookup, look_up_person, look_up_ref, resolve_person_ref
    from cpa.auth.consents import Consent, list_consents, revoke_consent
    from cpa.auth.errors import InsufficientScope, RateLimited
    from cpa.auth.expiry import PURGE_INTERVAL_S, purge_expired_auth_rows
    from cpa.auth.guard import (
        TokenGuardMiddleware,
        add_rate_limit_headers,
        provide_principal,
        public,
        require_token,
        requires,
    )
    from cpa.auth.principal import ClientKind, Principal
    from cpa.auth.ratelimit import RateLimiter
    from cpa.auth.scopes import SCOPES
    from cpa.auth.state import AuthState

    AUTH_ROUTE_HANDLERS: list[ControllerRouterHandler]

# Exports are resolved on first use (PEP 562): the command line imports cpa.auth.clients without
# paying for the web framework the guard and the endpoints need (measured: 0.3 s a command).
# What the HTTP layer (cpa/api, cpa/app.py) uses of auth is here; the rest is auth's own.
_EXPORTS = {
    "PURPOSES": "cpa.auth.advisor",
    "Lookup": "cpa.auth.advisor",
    "look_up_person": "cpa.auth.advisor",
    "look_up_ref": "cpa.auth.advisor",
    "resolve_person_ref": "cpa.auth.advisor",
    "Consent": "cpa.auth.consents",
    "list_consents": "cpa.auth.consents",
    "revoke_consent": "cpa.auth.consents",
    "InsufficientScope": "cpa.auth.errors",
    "RateLimited": "cpa.auth.errors",
    "PURGE_INTERVAL_S": "cpa.auth.expiry",
    "purge_expired_auth_rows": "cpa.auth.expiry",
    "TokenGuardMiddleware": "cpa.auth.guard",
    "add_rate_limit_headers": "cpa.auth.guard",
    "provide_principal": "cpa.auth.guard",
    "public": "cpa.auth.guard",
    "require_token": "cpa.auth.guard",
    "requires": "cpa.auth.guard",
    "AccessEntry": "cpa.auth.access_log",
    "ReadAccessLog": "cpa.auth.access_log",
    "access_log_fields": "cpa.auth.access_log",
    "list_access": "cpa.auth.access_log",
    "read_access_log": "cpa.auth.access_log",
    "record_access": "cpa.auth.access_log",
    "ClientKind": "cpa.auth.principal",
    "Principal": "cpa.auth.principal",
    "RateLimiter": "cpa.auth.ratelimit",
    "SCOPES": "cpa.auth.scopes",
    "AuthState": "cpa.auth.state",
}


def _route_handlers() -> list[Any]:
    """Every /oauth route and the metadata, in the order the OpenAPI spec lists them (by path,
    as when they were one controller: the spec stays byte for byte what it was)."""
    browser = importlib.import_module("cpa.auth.browser")
    endpoints = importlib.import_module("cpa.auth.endpoints")
    metadata = importlib.import_module("cpa.auth.metadata")
    return [
        browser.authorize_page,
        browser.authorize_decide,
        endpoints.introspect,
        metadata.jwks,
        browser.logout,
        endpoints.par,
        endpoints.revoke,
        endpoints.token,
        metadata.authorization_server_metadata,
    ]


def __getattr__(name: str) -> Any:
    if name == "AUTH_ROUTE_HANDLERS":
        return _route_handlers()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cpa.auth' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AUTH_ROUTE_HANDLERS",
    "PURGE_INTERVAL_S",
    "PURPOSES",
    "SCOPES",
    "AccessEntry",
    "AuthState",
    "ClientKind",
    "Consent",
    "InsufficientScope",
    "Lookup",
    "Principal",
    "RateLimited",
    "RateLimiter",
    "ReadAccessLog",
    "TokenGuardMiddleware",
    "access_log_fields",
    "add_rate_limit_headers",
    "list_access",
    "list_consents",
    "look_up_person",
    "look_up_ref",
    "provide_principal",
    "public",
    "purge_expired_auth_rows",
    "read_access_log",
    "record_access",
    "require_token",
    "requires",
    "resolve_person_ref",
    "revoke_consent",
]
