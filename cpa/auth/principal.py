"""Who is calling: the verified content of an access token, as the resource guard hands it on.

Route handlers and services receive a ``Principal``; they never see the token itself. A route
under ``/v1/me/…`` only ever addresses ``principal.person_id`` — there is no parameter by which
a client could name another person.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

ClientKind = Literal["portal", "training_body", "advisor_tool", "operator"]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    client_kind: ClientKind
    scopes: frozenset[str]
    jti: str
    sub: str
    """The pairwise subject this client sees (or the client id for machine tokens)."""
    person_id: UUID | None = None
    """The person the token acts for (authorization-code tokens); None for machine tokens."""
    consent_id: UUID | None = None
    client_name: str = ""
    """The partner's registered name, as the person reads it in their access journal."""
    acr: str | None = None
    """How strongly the person authenticated (person tokens only)."""
    advisor_id: str | None = None
    """Advisor routes: the advisor who looked the person up (see ``cpa.auth.advisor``)."""
    purpose: str | None = None
    """Advisor routes: the declared purpose of the lookup."""

    def has(self, scope: str) -> bool:
        return scope in self.scopes
