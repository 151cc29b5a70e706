"""What the OpenAPI document says of a route beyond its schemas: the scopes and client kinds
its guard requires (from the route's ``requires()`` opt, also as the operation's OAuth2
``security``), and the problems it answers (RFC 9457 ``application/problem+json``, each status
with its ``type`` slugs). Every route of the API is declared with :func:`doc` (guarded) or
:func:`public`; ``tests/api/test_openapi.py`` checks that none is left out.

:class:`Contract` is the app's OpenAPI configuration: the OAuth2 security scheme (both flows,
every scope with what it grants) and the component schemas of the bodies routes read by hand.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OAuthFlow,
    OAuthFlows,
    OpenAPI,
    Operation,
    SecurityScheme,
)

from cpa.api.problems import BodyTooLarge, DatabaseDown, TooDeep
from cpa.auth.errors import InsufficientScope, RateLimited, Unauthorized, WrongClientKind
from cpa.auth.openapi import PROBLEM_MEDIA_TYPE, DocumentedOperation, operation
from cpa.auth.scopes import MACHINE_SCOPES, PERSON_SCOPES, SCOPE_WORDS, SCOPES
from cpa.errors import PROBLEM_TYPE_PREFIX, CpaError, InvalidInput

_GUARD: tuple[type[CpaError], ...] = (Unauthorized, InsufficientScope, WrongClientKind, RateLimited)
SECURITY_SCHEME = "oauth2"


_EVERY: tuple[type[CpaError], ...] = (InvalidInput, DatabaseDown, TooDeep, BodyTooLarge)
"""What any route may answer: its input refused, the database down for a moment, and, on a
route with a body (the others leave them out: ``cpa.auth.openapi``), a body unreadable or too
large."""


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem as ``cpa.api.problems`` answers every refusal; some carry more
    members (``state``, ``allowed_actions``…)."""

    type: str
    """``urn:cpa:problem:<slug>``, stable."""
    title: str
    status: int
    detail: str
    instance: str
    """The request's path: every HTTP answer names it."""
    errors: list[dict[str, str]] | None = None
    """Input refusals: each field at fault and why."""


def guarded(opt: dict[str, Any], description: str = "") -> str:
    """``description`` followed by what the guard requires of the token."""
    declared = next(iter(opt.values()))
    scopes = ", ".join(f"`{s}`" for s in sorted(declared["scopes"])) or "none"
    who = "a person's consent token" if declared["person"] else "the client's own token"
    kinds = declared["kinds"]
    by = f" of a {' or '.join(kinds)} client" if kinds else ""
    return f"{description}\n\nRequires {who}{by}; scopes: {scopes}.".strip()


def problems(
    *errors: type[CpaError], guarded: bool = True, every: bool = True
) -> dict[int, ResponseSpec]:
    """The route's problem responses: the guard's (when ``guarded``), those of every route
    (unless not ``every``: the health probes), and ``errors``."""
    slugs: dict[int, list[str]] = {}
    answered: tuple[type[CpaError], ...] = (
        *(_GUARD if guarded else ()),
        *(_EVERY if every else ()),
        *errors,
    )
    for error in answered:
        slug = PROBLEM_TYPE_PREFIX + error.slug
        if slug not in slugs.setdefault(error.status, []):
            slugs[error.status].append(slug)
    return {
        status: ResponseSpec(
            Problem,
            description="Problem: " + ", ".join(f"`{slug}`" for slug in names),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status, names in sorted(slugs.items())
    }


def doc(
    opt: dict[str, Any],
    *errors: type[CpaError],
    description: str = "",
    responses: dict[int, ResponseSpec] | None = None,
    operation_class: type[Operation] | None = None,
) -> dict[str, Any]:
    """A guarded route's ``opt``, its description with the guard's requirements, its OAuth2
    security, its problem responses (and ``responses``, its other answers) and its operation
    class: ``@post("/", operation_id=…, **doc(requires("x"), NotFound))``."""
    declared = next(iter(opt.values()))
    return {
        "opt": opt,
        "description": guarded(opt, description),
        "security": [{SECURITY_SCHEME: sorted(declared["scopes"])}],
        "responses": {**problems(*errors), **(responses or {})},
        "operation_class": operation_class or operation(),
    }


def public(
    *errors: type[CpaError],
    opt: dict[str, Any] | None = None,
    responses: dict[int, ResponseSpec] | None = None,
    operation_class: type[Operation] | None = None,
    every: bool = True,
) -> dict[str, Any]:
    """A route without a token (health, simulations): its problems and operation class."""
    documented: dict[str, Any] = {
        "responses": {**problems(*errors, guarded=False, every=every), **(responses or {})},
        "operation_class": operation_class or operation(),
    }
    if opt is not None:
        documented["opt"] = opt
    return documented


def security_scheme(issuer_path: str = "") -> SecurityScheme:
    """OAuth2, both flows cpa serves: a person's consent (authorization code with PKCE) for the
    person scopes, a client's own token (client credentials) for the machine scopes."""

    def scopes(among: frozenset[str]) -> dict[str, str]:
        return {s: SCOPE_WORDS[s]["en"] for s in SCOPES if s in among}

    token_url = issuer_path + "/oauth/token"
    return SecurityScheme(
        type="oauth2",
        description=(
            "Send the access token as `Authorization: Bearer <token>`. Authenticate the client "
            "at the token endpoint with HTTP Basic, client_secret_post or private_key_jwt."
        ),
        flows=OAuthFlows(
            authorization_code=OAuthFlow(
                authorization_url=issuer_path + "/oauth/authorize",
                token_url=token_url,
                refresh_url=token_url,
                scopes=scopes(PERSON_SCOPES),
            ),
            client_credentials=OAuthFlow(token_url=token_url, scopes=scopes(MACHINE_SCOPES)),
        ),
    )


class _Document(OpenAPI):
    """The OpenAPI document with the component schemas its operations declare by hand."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for item in (self.paths or {}).values():
            for method in ("get", "put", "post", "delete", "patch"):
                op = getattr(item, method, None)
                if isinstance(op, DocumentedOperation):
                    for name, component in op.declared_components.items():
                        assert components.get(name, component) == component, f"two {name}"
                        components[name] = component
        schema["components"]["schemas"] = dict(sorted(components.items()))
        return schema


class Contract(OpenAPIConfig):
    """The app's OpenAPI configuration: the document it builds is a :class:`_Document`."""

    def to_openapi_schema(self) -> OpenAPI:
        built = super().to_openapi_schema()
        return _Document(**{f.name: getattr(built, f.name) for f in fields(built)})


def components() -> Components:
    return Components(security_schemes={SECURITY_SCHEME: security_scheme()})
