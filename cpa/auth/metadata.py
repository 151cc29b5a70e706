"""What the OAuth server says of itself: its metadata (RFC 8414) and the public keys that
sign its access tokens (RFC 7517), both public and cacheable."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from cpa.auth.responses import auth_state, oauth_errors, oauth_route
from cpa.auth.scopes import SCOPES
from cpa.auth.server import AUTH_METHODS

JWKS_MAX_AGE_S = 60
"""How long a partner may cache the key set: a rotated-in key is served this soon."""
JWK_SET_MEDIA_TYPE = "application/jwk-set+json"


class JwkSet(msgspec.Struct):
    """RFC 7517 §5: the public keys (EC P-256, ``ES256``), each with its ``kid``."""

    keys: list[dict[str, Any]]


@oauth_route(
    "GET",
    "/oauth/jwks",
    "getJwks",
    "Public keys that sign access tokens (RFC 7517)",
    responses={
        200: ResponseSpec(
            JwkSet,
            description=f"The key set; cache it {JWKS_MAX_AGE_S} s at most.",
            media_type=JWK_SET_MEDIA_TYPE,
            generate_examples=False,
        ),
        **oauth_errors(503),
    },
)
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    state = auth_state(request)
    if state.keys.stale():
        async with request.app.state.db.acquire() as db:
            await state.keys.refresh(db)
    return Response(
        msgspec.json.encode(state.keys.public_jwks),
        media_type=JWK_SET_MEDIA_TYPE,
        headers={"Cache-Control": f"max-age={JWKS_MAX_AGE_S}"},
    )


@oauth_route(
    "GET",
    "/.well-known/oauth-authorization-server",
    "getAuthorizationServerMetadata",
    "Authorization server metadata (RFC 8414)",
)
async def authorization_server_metadata(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = auth_state(request)
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
