"""The partner client registry: register, find, list, disable; pairwise subjects.

A client secret is generated here, returned once and stored as an argon2id hash. A
``private_key_jwt`` client registers its public JWKS instead. The ``sub`` a client sees for
a person is an HMAC of the person's id under that client's own salt: two partners cannot
correlate their users, and only cpa (through the consent the token names) maps it back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from cpa.auth.crypto import hash_secret
from cpa.auth.errors import (
    ClientAlreadyRegistered,
    ClientNotFound,
    InvalidClientRegistration,
    domain_error,
)
from cpa.auth.principal import ClientKind
from cpa.auth.scopes import KIND_GRANT_TYPES, KIND_SCOPES, MACHINE_SCOPES, SCOPES
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row

AuthMethod = Literal["client_secret_basic", "private_key_jwt"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("portal", "training_body", "advisor_tool", "operator")
RATE_LIMIT_PER_MINUTE_DEFAULT = 6_000
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class Client(msgspec.Struct, frozen=True, kw_only=True):
    """A registered partner, as the authorization server and the guard use it."""

    id: str
    kind: ClientKind
    name: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    grant_types: frozenset[str]
    auth_method: AuthMethod
    secret_hash: str | None
    jwks: dict[str, Any] | None
    pairwise_salt: bytes
    rate_limit_per_minute: int
    disabled: bool

    def subject_for(self, person_id: UUID) -> str:
        return pairwise_subject(self.pairwise_salt, person_id)


class ClientSummary(msgspec.Struct, kw_only=True):
    client_id: str
    kind: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    grant_types: list[str]
    auth_method: str
    rate_limit_per_minute: int
    created_at: str
    disabled_at: str | None


class NewClient(msgspec.Struct, kw_only=True):
    name: str
    kind: ClientKind
    redirect_uris: Sequence[str] = ()
    scopes: Sequence[str] = ()
    jwks: dict[str, Any] | None = None
    client_id: str | None = None
    client_secret: str | None = None
    """Only for fixed demo credentials; a fresh random secret otherwise."""
    rate_limit_per_minute: int = RATE_LIMIT_PER_MINUTE_DEFAULT


def pairwise_subject(salt: bytes, person_id: UUID) -> str:
    digest = hmac.new(salt, person_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def client_from_row(row: Any) -> Client:
    return from_row(
        Client,
        row,
        redirect_uris=tuple(row["redirect_uris"]),
        scopes=frozenset(row["scopes"]),
        grant_types=frozenset(row["grant_types"]),
        pairwise_salt=bytes(row["pairwise_salt"]),
        disabled=row["disabled_at"] is not None,
    )


def _check(new: NewClient) -> tuple[list[str], list[str]]:
    if new.kind not in CLIENT_KINDS:
        raise InvalidClientRegistration(f"kind must be one of {', '.join(CLIENT_KINDS)}")
    if new.client_id is not None and not _CLIENT_ID.match(new.client_id):
        raise InvalidClientRegistration("a client id has 3 to 64 of a-z 0-9 . _ -")
    scopes = list(new.scopes) or list(KIND_SCOPES[new.kind])
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidClientRegistration(f"unknown scopes: {' '.join(unknown)}")
    grant_types = list(KIND_GRANT_TYPES[new.kind])
    if "client_credentials" in grant_types and not set(scopes) & MACHINE_SCOPES:
        grant_types.remove("client_credentials")
    if "authorization_code" in grant_types and not new.redirect_uris:
        raise InvalidClientRegistration(f"a {new.kind} client needs at least one --redirect-uri")
    for uri in new.redirect_uris:
        if not re.match(r"^(https://|http://(localhost|127\.0\.0\.1)[:/])", uri) or "#" in uri:
            raise InvalidClientRegistration(
                f"redirect URIs are absolute https URLs without fragment (http only on "
                f"loopback): {uri!r}"
            )
    if new.jwks is not None:
        try:
            keys = KeySet.import_key_set(new.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise InvalidClientRegistration(f"the JWKS cannot be read: {error}") from error
        if not keys.keys or any(key.is_private for key in keys.keys):
            raise InvalidClientRegistration("the JWKS holds public keys only, at least one")
    return scopes, grant_types


async def register_client(db: Connection, new: NewClient) -> dict[str, Any]:
    """Register ``new``; the answer holds the client secret, shown this once only."""
    scopes, grant_types = _check(new)
    client_id = new.client_id or f"{new.kind.replace('_', '-')}-{secrets.token_hex(8)}"
    secret = None
    if new.jwks is None:
        secret = new.client_secret or secrets.token_urlsafe(32)
    try:
        row = await db.fetchrow(
            sql("insert_oauth_client"),
            client_id,
            new.kind,
            new.name,
            list(new.redirect_uris),
            scopes,
            grant_types,
            "client_secret_basic" if secret else "private_key_jwt",
            hash_secret(secret) if secret else None,
            new.jwks,
            secrets.token_bytes(32),
            new.rate_limit_per_minute,
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        raise (domain_error(error) or error) from error
    if row is None:
        raise ClientAlreadyRegistered()
    answer: dict[str, Any] = {
        "client_id": client_id,
        "kind": new.kind,
        "name": new.name,
        "token_endpoint_auth_method": "client_secret_basic" if secret else "private_key_jwt",
        "scopes": scopes,
        "grant_types": grant_types,
        "redirect_uris": list(new.redirect_uris),
    }
    if secret:
        answer["client_secret"] = secret
    return answer


async def find_client(db: Connection, client_id: str) -> Client | None:
    if not _CLIENT_ID.match(client_id):
        return None  # never registered (see _check); claimed ids come from strangers
    row = await db.fetchrow(sql("get_oauth_client"), client_id)
    return client_from_row(row) if row is not None else None


async def list_clients(db: Connection) -> list[ClientSummary]:
    return [
        ClientSummary(
            client_id=r["id"],
            kind=r["kind"],
            name=r["name"],
            redirect_uris=list(r["redirect_uris"]),
            scopes=list(r["scopes"]),
            grant_types=list(r["grant_types"]),
            auth_method=r["auth_method"],
            rate_limit_per_minute=r["rate_limit_per_minute"],
            created_at=r["created_at"].isoformat(),
            disabled_at=r["disabled_at"].isoformat() if r["disabled_at"] else None,
        )
        for r in await db.fetch(sql("list_oauth_clients"))
    ]


async def disable_client(db: Connection, client_id: str) -> dict[str, str]:
    row = await db.fetchrow(sql("disable_oauth_client"), client_id)
    if row is None:
        raise ClientNotFound()
    return {"client_id": row["id"], "disabled_at": row["disabled_at"].isoformat()}
