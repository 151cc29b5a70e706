"""What every /oauth handler shares: the app's :class:`AuthState`, the Authlib request made
from a Litestar one, and Authlib's answers made into responses (RFC 6749 error bodies, never
problem documents; ``Cache-Control: no-store`` on every one)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation

from cpa.auth.openapi import JSON_MEDIA_TYPE, operation
from cpa.auth.scopes import SCOPES
from cpa.auth.server import CpaRequest, OAuthResponse
from cpa.auth.state import AuthState

_TEXT: dict[str, Any] = {"type": "string"}
AUTHORIZE_FIELDS: dict[str, dict[str, Any]] = {
    "response_type": {"type": "string", "enum": ["code"]},
    "client_id": {**_TEXT, "description": "The partner's client id."},
    "redirect_uri": {**_TEXT, "description": "One of the client's registered redirect URIs."},
    "scope": {
        **_TEXT,
        "description": "Space-separated scopes, among: " + ", ".join(SCOPES) + ".",
    },
    "state": {**_TEXT, "description": "Returned unchanged with the code (CSRF protection)."},
    "code_challenge": {**_TEXT, "description": "PKCE (RFC 7636): BASE64URL(SHA256(verifier))."},
    "code_challenge_method": {"type": "string", "enum": ["S256"]},
    "request_uri": {**_TEXT, "description": "A pushed request's URI (RFC 9126), with client_id."},
}
"""The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636, RFC 9126)."""


class OAuthError(msgspec.Struct, kw_only=True):
    """An RFC 6749 §5.2 error body (not a problem document: OAuth clients expect this)."""

    error: str
    """``invalid_request``, ``invalid_client``, ``invalid_grant``, ``unauthorized_client``,
    ``unsupported_grant_type``, ``invalid_scope``, ``temporarily_unavailable``…"""
    error_description: str
    """What was wrong, for the partner's developer (never a secret)."""


OAUTH_ERRORS: dict[int, str] = {
    400: "The request is refused (RFC 6749 §5.2): `error` says why.",
    401: "The client could not be authenticated (`invalid_client`).",
    429: "Too many requests for this client or address: retry after `Retry-After`.",
    503: "The service is unavailable for a moment (`temporarily_unavailable`): retry shortly.",
}


def oauth_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The RFC 6749 error answers of an OAuth endpoint, at ``statuses``."""
    return {
        status: ResponseSpec(
            OAuthError,
            description=OAUTH_ERRORS[status],
            media_type=JSON_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


class TokenAnswer(msgspec.Struct, kw_only=True):
    """RFC 6749 §5.1: an access token (a JWT signed with a key of ``/oauth/jwks``)."""

    access_token: str
    token_type: str
    """Always ``Bearer``."""
    expires_in: int
    """Seconds the access token lives."""
    scope: str
    """The scopes granted, space separated."""
    refresh_token: str | None = None
    """Code flow only; rotated at each use, and a reused one revokes its whole family."""


class Introspection(msgspec.Struct, kw_only=True):
    """RFC 7662 §2.2: ``active`` only, when the token is unknown, expired, revoked or another
    client's; otherwise its claims."""

    active: bool
    client_id: str | None = None
    scope: str | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    exp: int | None = None
    iat: int | None = None
    jti: str | None = None
    acr: str | None = None
    auth_time: int | None = None
    token_type: str | None = None


class Revoked(msgspec.Struct):
    """RFC 7009 §2.2: an empty object, whether the token was known or not."""


class PushedRequest(msgspec.Struct, kw_only=True):
    """RFC 9126 §2.2: the ``request_uri`` to send to ``/oauth/authorize`` with the client id."""

    request_uri: str
    expires_in: int


def oauth_answer(type_: Any, status: int = 200, description: str = "") -> dict[int, ResponseSpec]:
    """An OAuth endpoint's success answer: ``type_`` as JSON."""
    spec = ResponseSpec(
        type_,
        description=description or (type_.__doc__ or "").strip().splitlines()[0],
        media_type=JSON_MEDIA_TYPE,
        generate_examples=False,
    )
    return {status: spec}


def oauth_route(
    method: Literal["GET", "POST"],
    path: str,
    operation_id: str,
    summary: str,
    status_code: int = 200,
    *,
    responses: dict[int, ResponseSpec] | None = None,
    operation_class: type[Operation] | None = None,
    description: str | None = None,
) -> HTTPRouteHandler:
    """The decorator of an OAuth route: documented under the ``oauth`` tag, 200 unless told,
    with its answers (``responses``) and the inputs it reads by hand (``operation_class``, see
    :func:`cpa.auth.openapi.operation`)."""
    route = get if method == "GET" else post
    return route(
        path,
        tags=["oauth"],
        operation_id=operation_id,
        summary=summary,
        description=description,
        status_code=status_code,
        responses=responses,
        operation_class=operation_class or operation(),
    )


def auth_state(request: Request[Any, Any, Any]) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


def authlib_request(
    state: AuthState, request: Request[Any, Any, Any], pairs: list[tuple[str, str]]
) -> CpaRequest:
    """The request as Authlib reads it: our issuer's URL, the client's credentials, ``pairs``."""
    headers = {"Authorization": request.headers.get("authorization", "")}
    return CpaRequest(request.method, state.issuer + request.url.path, headers, pairs)


ERROR_DESCRIPTIONS: dict[str, str] = {
    "invalid_request": "the request lacks a parameter, repeats one, or is malformed",
    "invalid_client": (
        "client authentication failed: unknown client, wrong secret or assertion, or none sent"
    ),
    "invalid_grant": (
        "the authorization code or refresh token is invalid, expired, revoked, already used, "
        "or was issued to another client or redirect URI"
    ),
    "unauthorized_client": "this client may not use this grant type",
    "unsupported_grant_type": "this grant type is not supported",
    "invalid_scope": "a scope is unknown or beyond what this client may ask for",
    "access_denied": "the person refused, or the request is not allowed",
    "unsupported_response_type": "only response_type=code is supported",
    "unsupported_token_type": "this kind of token cannot be revoked or introspected here",
    "invalid_request_uri": "the request_uri is unknown or expired",
    "invalid_request_object": "the pushed request is invalid",
    "server_error": "the server could not answer; it was logged",
    "temporarily_unavailable": "the service is unavailable for a moment: retry shortly",
}
"""What each RFC 6749 error means, for an error Authlib raised without a description: every
OAuth error carries an ``error_description`` (RFC 6749 §5.2 makes it optional; partners'
developers need it)."""


def described(body: Any) -> Any:
    """``body`` with an ``error_description`` when it is an error body without one."""
    if isinstance(body, dict) and "error" in body and not body.get("error_description"):
        error = str(body["error"])
        return {**body, "error_description": ERROR_DESCRIPTIONS.get(error, error)}
    return body


def oauth_response(answer: OAuthResponse, extra: dict[str, str] | None = None) -> Response[bytes]:
    """Authlib's answer: a redirect (always 303: the browser must GET), or a JSON body."""
    headers = dict(answer.headers)
    headers.update(extra or {})
    headers["Cache-Control"] = "no-store"
    if answer.status in (301, 302, 303):
        return Response(b"", status_code=303, headers=headers)
    headers.pop("Content-Type", None)
    return Response(
        msgspec.json.encode(described(answer.body)),
        status_code=answer.status,
        headers=headers,
        media_type="application/json",
    )
