"""What every /oauth handler shares: the app's :class:`AuthState`, the Authlib request made
from a Litestar one, and Authlib's answers made into responses (RFC 6749 error bodies, never
problem documents; ``Cache-Control: no-store`` on every one)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from cpa.auth.server import CpaRequest, OAuthResponse
from cpa.auth.state import AuthState


def oauth_route(
    method: Literal["GET", "POST"],
    path: str,
    operation_id: str,
    summary: str,
    status_code: int = 200,
) -> HTTPRouteHandler:
    """The decorator of an OAuth route: documented under the ``oauth`` tag, 200 unless told."""
    route = get if method == "GET" else post
    return route(
        path, tags=["oauth"], operation_id=operation_id, summary=summary, status_code=status_code
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


def oauth_response(answer: OAuthResponse, extra: dict[str, str] | None = None) -> Response[bytes]:
    """Authlib's answer: a redirect (always 303: the browser must GET), or a JSON body."""
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
