"""Login tickets: who logged in, carried by the consent form from the login to the decision.

A ticket is a JWT (joserfc, HS256 under a key derived for tickets only, ``typ``
``cpa-login-ticket+jwt``), bound to the exact authorization request and the CSRF cookie
(:func:`request_digest`), alive ten minutes, and used once: the consent's transaction records
its ``jti`` (``use_login_ticket``), so a replayed ticket is refused there.
"""

from __future__ import annotations

import base64
import hashlib
import time
from uuid import UUID

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

from cpa.auth.crypto import new_token
from cpa.auth.login import Authentication

TICKET_LIFETIME_S = 600
"""From the login to the consent decision."""
TICKET_TYPE = "cpa-login-ticket+jwt"
TICKET_ALGORITHM = "HS256"
TICKET_JTI_BYTES = 16
TICKETS_LABEL = "login-tickets"
"""The HKDF label of the tickets' key (:func:`cpa.auth.crypto.derive_key`)."""


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    who: Authentication
    jti: str
    expires_at: float


def request_digest(pairs: list[tuple[str, str]], csrf: str) -> str:
    """What a ticket is bound to: the authorization request's parameters as carried by the
    form and as resolved (a pushed request's stored ones), and the CSRF cookie."""
    canonical = msgspec.json.encode([sorted(set(pairs)), csrf])
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


class LoginTickets:
    """Issues and reads the tickets of one issuer, under one key."""

    def __init__(self, issuer: str, key: bytes) -> None:
        self.issuer = issuer
        self._key = OctKey.import_key(key)

    def issue(self, who: Authentication, client_id: str, digest: str) -> str:
        """A signed JWT naming who logged in, for this client and this very request."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "sub": str(who.person_id),
            "acr": who.acr,
            "auth_time": who.auth_time,
            "req": digest,
            "jti": new_token(TICKET_JTI_BYTES),
            "iat": now,
            "exp": now + TICKET_LIFETIME_S,
        }
        return jwt.encode({"alg": TICKET_ALGORITHM, "typ": TICKET_TYPE}, claims, self._key)

    def read(self, ticket: str, client_id: str, digest: str) -> Ticket | None:
        """The ticket's login when it is ours, live, and for this very request (not yet known
        to be unused: the consent's transaction records its use)."""
        registry = JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": client_id},
            req={"essential": True, "value": digest},
            sub={"essential": True},
            jti={"essential": True},
            exp={"essential": True},
        )
        try:
            token = jwt.decode(ticket, self._key, [TICKET_ALGORITHM])
            if token.header.get("typ") != TICKET_TYPE:
                return None  # joserfc checks the algorithm, not the type
            registry.validate(token.claims)
            claims = token.claims
            who = Authentication(
                person_id=UUID(str(claims["sub"])),
                acr=str(claims["acr"]),
                auth_time=int(claims["auth_time"]),
            )
        except (JoseError, ValueError, KeyError, TypeError):
            return None
        return Ticket(who=who, jti=str(claims["jti"]), expires_at=float(claims["exp"]))
