"""The authorization server: Authlib's grants and endpoints over rows loaded beforehand.

Authlib is synchronous. Each OAuth request runs in three steps, all in the async handler:

1. **load**: read the rows Authlib will ask for (the client, the code, the refresh token)
   with asyncpg into an :class:`Exchange`;
2. **decide**: call Authlib synchronously; every callback it makes reads the exchange, and
   every write it wants is appended to ``exchange.writes`` instead of being done;
3. **write**: run the writes in one transaction. The ones that must be atomic (consume a
   code, rotate a refresh token, remember an assertion ``jti``) are conditional statements
   whose empty answer means another request won: the tokens Authlib generated are then
   discarded and the client gets ``invalid_grant``.

Loading first measured about twice as fast as running Authlib in a worker thread.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from joserfc.jwk import KeySet

from cpa.auth.clients import Client
from cpa.auth.crypto import VerifiedSecretCache, new_token, token_hash
from cpa.auth.scopes import MACHINE_SCOPES, PERSON_SCOPES
from cpa.auth.settings import AuthSettings
from cpa.auth.tokens import AccessTokenCodec, TokenInvalid
from cpa.db.database import Connection, Database
from cpa.db.queries import sql

# Authlib logs issued tokens at DEBUG ("Issue token %r"): never let them through.
logging.getLogger("authlib").setLevel(logging.WARNING)

AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
CODE_CHALLENGE_METHOD = "S256"


# -- what one request loaded, and what it wants written ------------------------------------


@dataclass
class CodeRow:
    code_hash: bytes
    client_id: str
    consent_id: uuid.UUID
    redirect_uri: str
    scopes: list[str]
    code_challenge: str
    auth_time: int
    person_id: uuid.UUID
    consent_expires_at: float
    acr: str
    consent_active: bool
    used: bool = False
    issued_jti: str | None = None
    issued_access_expires_at: float | None = None
    issued_family_id: uuid.UUID | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.scopes)


@dataclass
class RefreshRow:
    id: uuid.UUID
    family_id: uuid.UUID
    client_id: str
    consent_id: uuid.UUID
    scopes: list[str]
    expires_at: float
    used: bool
    revoked: bool
    person_id: uuid.UUID
    consent_expires_at: float
    consent_active: bool
    acr: str

    def check_client(self, client: AuthlibClient) -> bool:
        return bool(self.client_id == client.client.id)

    def get_scope(self) -> str:
        return " ".join(self.scopes)

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked or self.used or not self.consent_active


@dataclass
class AccessTokenInfo:
    """An access token presented to /oauth/introspect or /oauth/revoke (signature verified)."""

    claims: dict[str, Any]
    revoked: bool

    def check_client(self, client: AuthlibClient) -> bool:
        return bool(self.claims.get("client_id") == client.client.id)

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.claims["exp"] - time.time())

    def is_expired(self) -> bool:
        return bool(self.claims["exp"] <= time.time())

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass(frozen=True)
class Grantee:
    """The person a code or refresh token acts for (Authlib's "user")."""

    person_id: uuid.UUID
    consent_id: uuid.UUID
    acr: str
    auth_time: int
    consent_expires_at: float
    family_id: uuid.UUID | None = None

    def get_user_id(self) -> str:
        return str(self.person_id)


Write = tuple[str, tuple[Any, ...], bool]
"""(named query, arguments, must return a row)."""

Connect = Callable[[], Awaitable[Connection]]
"""Gives the request's connection, acquiring it from the pool on first use."""


def given(db: Connection) -> Connect:
    """A :data:`Connect` for a connection the caller already holds."""

    async def connect() -> Connection:
        return db

    return connect


def lazy_connection(database: Database, stack: AsyncExitStack) -> Connect:
    """A :data:`Connect` acquiring from the pool on first call only (released by ``stack``):
    a request served from the caches never takes a connection."""
    held: list[Connection] = []

    async def connect() -> Connection:
        if not held:
            held.append(await stack.enter_async_context(database.acquire()))
        return held[0]

    return connect


@dataclass
class Exchange:
    """Rows loaded for one OAuth request, and the writes Authlib's decision asks for."""

    client: Client | None = None
    code: CodeRow | None = None
    refresh: RefreshRow | None = None
    access: AccessTokenInfo | None = None
    writes: list[Write] = field(default_factory=list)
    assertion_jti: tuple[str, str, float] | None = None
    issued_jti: str | None = None
    issued_access_expires_at: float | None = None
    issued_family_id: uuid.UUID | None = None
    authenticated: bool = False
    """Whether Authlib authenticated the client (then its requests count against it)."""


_EXCHANGE: contextvars.ContextVar[Exchange] = contextvars.ContextVar("cpa_oauth_exchange")


def current_exchange() -> Exchange:
    """The exchange of the OAuth request Authlib is deciding (see :func:`deciding`)."""
    return _EXCHANGE.get()


@contextmanager
def deciding(exchange: Exchange) -> Iterator[None]:
    """Let Authlib's callbacks, called synchronously inside this block, read ``exchange`` and
    queue their writes in it (:func:`current_exchange`)."""
    token = _EXCHANGE.set(exchange)
    try:
        yield
    finally:
        _EXCHANGE.reset(token)


# -- Authlib adapters ----------------------------------------------------------------------


class AuthlibClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: Client, server: CpaAuthorizationServer) -> None:
        self.client = client
        self.server = server

    def get_client_id(self) -> str:
        return self.client.id

    def get_default_redirect_uri(self) -> str | None:
        # Exact match only: no default, the request names its redirect URI.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = (scope or "").split()
        allowed = self.client.scopes & PERSON_SCOPES
        if not requested or not set(requested) <= allowed:
            return None
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        secrets: VerifiedSecretCache = self.server.secrets
        return secrets.verify(self.client.id, self.client.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = {}
        for key, value in pairs:
            self._datalist.setdefault(key, []).append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class CpaRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self, method: str, uri: str, headers: dict[str, str], pairs: list[tuple[str, str]]
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = FormPayload(pairs)

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def args(self) -> dict[str, str]:
        return self.form


@dataclass
class OAuthResponse:
    status: int
    body: Any
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "location"]
        self.headers.append(("Location", value))


def parse_form(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def check_printable(pairs: list[tuple[str, str]]) -> None:
    """Refuse OAuth parameters outside printable ASCII (RFC 6749 Appendix A: every one of
    ours is VSCHAR, NQCHAR or a URI). Before Authlib sees them: it raises a ValueError, not
    an OAuth error, when its error description would quote such a value; and before a client
    id reaches the database (a NUL cannot be stored)."""
    for key, value in pairs:
        if not (key + value).isascii() or not (key + value).isprintable():
            raise InvalidRequestError(
                "a parameter holds characters outside printable ASCII (RFC 6749 Appendix A)"
            )


# -- client authentication: private_key_jwt -----------------------------------------------


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client assertions; the jti is remembered at write time (replay refused)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: CpaAuthorizationServer) -> None:
        super().__init__(validate_jti=True, leeway=server.settings.clock_skew_s)
        self.server = server
        self._keysets: dict[str, tuple[int, KeySet]] = {}

    def get_audiences(self) -> list[str]:
        issuer = self.server.issuer
        return [
            issuer,
            *(
                issuer + path
                for path in ("/oauth/token", "/oauth/par", "/oauth/introspect", "/oauth/revoke")
            ),
        ]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        current_exchange().assertion_jti = (str(claims["sub"]), str(jti), float(claims["exp"]))
        return True

    def resolve_client_public_key(self, client: AuthlibClient) -> KeySet:
        jwks = client.client.jwks or {"keys": []}
        marker = hash(repr(jwks))
        cached = self._keysets.get(client.client.id)
        if cached is None or cached[0] != marker:
            cached = (marker, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
            self._keysets[client.client.id] = cached
        return cached[1]


# -- grants --------------------------------------------------------------------------------


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        data = self.request.payload.data
        # CodeChallenge(required=True) neither requires PKCE here nor refuses "plain".
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge (S256)", redirect_uri=redirect_uri
            )
        if data.get("code_challenge_method") != CODE_CHALLENGE_METHOD:
            raise InvalidRequestError(
                "code_challenge_method must be S256", redirect_uri=redirect_uri
            )
        return redirect_uri

    def save_authorization_code(self, code: str, request: CpaRequest) -> None:
        grantee: Grantee = request.user
        settings: AuthSettings = self.server.settings
        current_exchange().writes.append(
            (
                "insert_authorization_code",
                (
                    token_hash(code),
                    request.client.client.id,
                    grantee.consent_id,
                    request.payload.redirect_uri,
                    request.scope.split(),
                    request.payload.data["code_challenge"],
                    _timestamp(grantee.auth_time),
                    _timestamp(time.time() + settings.authorization_code_lifetime_s),
                ),
                False,
            )
        )

    def query_authorization_code(self, code: str, client: AuthlibClient) -> CodeRow | None:
        row = current_exchange().code
        if row is None or row.code_hash != token_hash(code) or row.client_id != client.client.id:
            return None
        if row.used or not row.consent_active:
            return None
        return row

    def delete_authorization_code(self, authorization_code: CodeRow) -> None:
        # Called after the tokens are generated: the code remembers them (replay → revoked).
        exchange = current_exchange()
        exchange.writes.append(
            (
                "consume_authorization_code",
                (
                    authorization_code.code_hash,
                    authorization_code.client_id,
                    exchange.issued_jti,
                    _timestamp(exchange.issued_access_expires_at or time.time()),
                    exchange.issued_family_id,
                    float(self.server.settings.used_code_retention_s),
                ),
                True,
            )
        )

    def authenticate_user(self, authorization_code: CodeRow) -> Grantee:
        return Grantee(
            person_id=authorization_code.person_id,
            consent_id=authorization_code.consent_id,
            acr=authorization_code.acr,
            auth_time=authorization_code.auth_time,
            consent_expires_at=authorization_code.consent_expires_at,
        )


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    SUPPORTED_CODE_CHALLENGE_METHOD = (CODE_CHALLENGE_METHOD,)
    DEFAULT_CODE_CHALLENGE_METHOD = CODE_CHALLENGE_METHOD

    def get_authorization_code_challenge(self, authorization_code: CodeRow) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: CodeRow) -> str:
        return CODE_CHALLENGE_METHOD


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRow | None:
        row = current_exchange().refresh
        if row is None or row.is_revoked() or row.is_expired():
            return None
        return row

    def authenticate_user(self, refresh_token: RefreshRow) -> Grantee:
        return Grantee(
            person_id=refresh_token.person_id,
            consent_id=refresh_token.consent_id,
            acr=refresh_token.acr,
            auth_time=int(time.time()),
            consent_expires_at=refresh_token.consent_expires_at,
            family_id=refresh_token.family_id,
        )

    def revoke_old_credential(self, refresh_token: RefreshRow) -> None:
        current_exchange().writes.append(("rotate_refresh_token", (refresh_token.id,), True))


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        client: Client = self.request.client.client
        allowed = client.scopes & MACHINE_SCOPES
        requested = set((self.request.payload.scope or "").split()) or allowed
        if not requested or not requested <= allowed:
            raise InvalidScopeError()
        self.request.scope = " ".join(sorted(requested))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


# -- endpoints ----------------------------------------------------------------------------


class TokenLookup:
    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> AccessTokenInfo | RefreshRow | None:
        exchange = current_exchange()
        if exchange.access is not None:
            return exchange.access
        return exchange.refresh


class CpaRevocationEndpoint(TokenLookup, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def revoke_token(self, token: AccessTokenInfo | RefreshRow, request: CpaRequest) -> None:
        if isinstance(token, AccessTokenInfo):
            claims = token.claims
            current_exchange().writes.append(
                ("insert_token_revocation", (claims["jti"], _timestamp(claims["exp"])), False)
            )
        else:
            current_exchange().writes.append(
                ("revoke_refresh_token_family", (token.family_id,), False)
            )


class CpaIntrospectionEndpoint(TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def check_permission(
        self, token: AccessTokenInfo | RefreshRow, client: AuthlibClient, request: CpaRequest
    ) -> bool:
        # A client may introspect its own tokens only.
        return token.check_client(client)

    def introspect_token(self, token: AccessTokenInfo | RefreshRow) -> dict[str, Any]:
        if isinstance(token, AccessTokenInfo):
            keep = (
                "client_id",
                "scope",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "acr",
                "auth_time",
            )
            payload = {k: token.claims[k] for k in keep if k in token.claims}
            payload["token_type"] = "Bearer"
            return payload
        return {
            "client_id": token.client_id,
            "scope": token.get_scope(),
            "exp": int(token.expires_at),
            "token_type": "refresh_token",
        }


# -- the server ---------------------------------------------------------------------------


class CpaAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self, issuer: str, settings: AuthSettings, codec: AccessTokenCodec, secrets: Any
    ) -> None:
        super().__init__(scopes_supported=sorted(PERSON_SCOPES | MACHINE_SCOPES))
        self.issuer = issuer
        self.settings = settings
        self.codec = codec
        self.secrets = secrets
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(CpaRevocationEndpoint)
        self.register_endpoint(CpaIntrospectionEndpoint)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(self))
        self.register_token_generator("default", self._generate_token)
        issuer_parameter = IssuerParameter()
        issuer_parameter.get_issuer = lambda: issuer
        self.register_extension(issuer_parameter)

    # Authlib's callbacks -------------------------------------------------------------------

    def authenticate_client(
        self, request: CpaRequest, methods: list[str], endpoint: str = "token"
    ) -> AuthlibClient:
        client: AuthlibClient = super().authenticate_client(request, methods, endpoint)
        current_exchange().authenticated = True
        return client

    def query_client(self, client_id: str) -> AuthlibClient | None:
        client = current_exchange().client
        if client is None or client.id != client_id or client.disabled:
            return None
        return AuthlibClient(client, self)

    def save_token(self, token: dict[str, Any], request: CpaRequest) -> None:
        """Access tokens are self-contained; refresh tokens were queued by the generator."""

    def create_oauth2_request(self, request: CpaRequest) -> CpaRequest:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: what happens is logged by the handlers."""

    def _generate_token(
        self,
        grant_type: str,
        client: AuthlibClient,
        user: Grantee | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        now = int(time.time())
        lifetime = self.settings.access_token_lifetime_s
        if user is not None:
            lifetime = max(0, min(lifetime, int(user.consent_expires_at) - now))
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.codec.audience,
            "client_id": client.client.id,
            "scope": scope or "",
            "jti": new_token(16),
            "iat": now,
            "exp": now + lifetime,
        }
        if user is None:
            claims["sub"] = client.client.id
        else:
            claims["sub"] = client.client.subject_for(user.person_id)
            claims["consent_id"] = str(user.consent_id)
            claims["acr"] = user.acr
            claims["auth_time"] = user.auth_time
        current_exchange().issued_jti = claims["jti"]
        current_exchange().issued_access_expires_at = claims["exp"]
        token: dict[str, Any] = {
            "access_token": self.codec.encode(claims),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": claims["scope"],
        }
        if user is not None:
            # The partner learns the consent it holds without decoding the token (which it
            # must treat as opaque): GET /v1/me/consent tells the rest.
            token["consent_id"] = str(user.consent_id)
        if include_refresh_token and user is not None:
            token["refresh_token"] = self._queue_refresh_token(client.client, user, scope or "")
        return token

    def _queue_refresh_token(self, client: Client, user: Grantee, scope: str) -> str:
        refresh = new_token()
        expires_at = min(
            time.time() + self.settings.refresh_token_lifetime_s, user.consent_expires_at
        )
        token_id = uuid.uuid4()
        current_exchange().issued_family_id = user.family_id or token_id
        current_exchange().writes.append(
            (
                "insert_refresh_token",
                (
                    token_id,
                    token_hash(refresh),
                    user.family_id or token_id,
                    client.id,
                    user.consent_id,
                    scope.split(),
                    _timestamp(expires_at),
                ),
                False,
            )
        )
        return refresh

    # running one request: load, decide, write ------------------------------------------------

    async def run(
        self,
        connect: Connect,
        exchange: Exchange,
        decide: Callable[[], OAuthResponse],
    ) -> OAuthResponse:
        """Call Authlib with ``exchange`` loaded, then write what it asked for, atomically
        (the only step that connects, and only when there is something to write)."""
        with deciding(exchange):
            response = decide()
        if response.status >= 400 or not (exchange.writes or exchange.assertion_jti):
            return response
        db = await connect()
        try:
            async with db.transaction():
                await _write(db, exchange)
        except _Lost as lost:
            return error_response(lost.error)
        return response


class _Lost(Exception):
    def __init__(self, error: OAuth2Error) -> None:
        self.error = error


async def _write(db: Connection, exchange: Exchange) -> None:
    if exchange.assertion_jti is not None:
        client_id, jti, exp = exchange.assertion_jti
        if (
            await db.fetchval(sql("insert_client_assertion_jti"), client_id, jti, _timestamp(exp))
            is None
        ):
            raise _Lost(InvalidClientError(description="This client assertion was already used."))
    for name, args, must_return_row in exchange.writes:
        if must_return_row:
            if await db.fetchrow(sql(name), *args) is None:
                raise _Lost(InvalidGrantError(description="The grant was already used."))
        else:
            await db.execute(sql(name), *args)


def error_response(error: OAuth2Error) -> OAuthResponse:
    status, body, headers = error()
    return OAuthResponse(status, body, list(headers))


def add_issuer(location: str, issuer: str) -> str:
    return str(add_params_to_uri(location, {"iss": issuer}))


def _timestamp(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


# -- loading -------------------------------------------------------------------------------


def _epoch(value: Any) -> float:
    return float(value.timestamp())


async def load_code(db: Connection, code: str) -> CodeRow | None:
    row = await db.fetchrow(sql("get_authorization_code"), token_hash(code))
    if row is None:
        return None
    return CodeRow(
        code_hash=bytes(row["code_hash"]),
        client_id=row["client_id"],
        consent_id=row["consent_id"],
        redirect_uri=row["redirect_uri"],
        scopes=list(row["scopes"]),
        code_challenge=row["code_challenge"],
        auth_time=int(_epoch(row["auth_time"])),
        person_id=row["person_id"],
        consent_expires_at=_epoch(row["consent_expires_at"]),
        acr=row["acr"],
        consent_active=row["consent_revoked_at"] is None
        and _epoch(row["consent_expires_at"]) > time.time(),
        used=row["used_at"] is not None,
        issued_jti=row["issued_jti"],
        issued_access_expires_at=_epoch(row["issued_access_expires_at"])
        if row["issued_access_expires_at"] is not None
        else None,
        issued_family_id=row["issued_family_id"],
    )


async def load_refresh(db: Connection, refresh_token: str) -> RefreshRow | None:
    row = await db.fetchrow(sql("get_refresh_token"), token_hash(refresh_token))
    if row is None:
        return None
    return RefreshRow(
        id=row["id"],
        family_id=row["family_id"],
        client_id=row["client_id"],
        consent_id=row["consent_id"],
        scopes=list(row["scopes"]),
        expires_at=_epoch(row["expires_at"]),
        used=row["used_at"] is not None,
        revoked=row["revoked_at"] is not None,
        person_id=row["person_id"],
        consent_expires_at=_epoch(row["consent_expires_at"]),
        consent_active=row["consent_revoked_at"] is None
        and _epoch(row["consent_expires_at"]) > time.time(),
        acr=row["acr"],
    )


def load_access(
    codec: AccessTokenCodec, token: str, revoked: Callable[[dict[str, Any]], bool]
) -> AccessTokenInfo | None:
    try:
        claims = codec.decode(token, check_time=False)
    except TokenInvalid:
        return None
    return AccessTokenInfo(claims=claims, revoked=revoked(claims))


__all__ = [
    "AUTH_METHODS",
    "AccessDeniedError",
    "CodeRow",
    "Connect",
    "CpaAuthorizationServer",
    "CpaRequest",
    "Exchange",
    "Grantee",
    "OAuthResponse",
    "UnauthorizedClientError",
    "add_issuer",
    "current_exchange",
    "deciding",
    "error_response",
    "given",
    "lazy_connection",
    "load_access",
    "load_code",
    "load_refresh",
    "parse_form",
]
