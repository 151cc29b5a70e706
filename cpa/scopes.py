"""The scopes a token may carry: the one list, a type every layer can name.

The authorization server (``cpa.auth.scopes``: who may ask for which, the consent page's words)
and the domains that mask what they show by scope (the ledger's pots) both read it from here,
below them all; mypy refuses a scope string that is not one of these.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Scope = Literal[
    "account:read",
    "cpf:read",
    "c2p:read",
    "cec:read",
    "services:read",
    "services:write",
    "cpf:hold",
    "holds:read",
    "c2p:convert",
    "advisor:read",
    "declarations:write",
    "trainings:read",
    "trainings:write",
    "dossiers:read",
    "dossiers:write",
    "dossiers:manage",
    "dossiers:finance",
    "events:read",
]

SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
"""Every scope cpa knows, in the order the metadata lists them."""

MACHINE_SCOPES: Final[frozenset[Scope]] = frozenset(
    {
        "advisor:read",
        "holds:read",
        "declarations:write",
        "trainings:write",
        "dossiers:manage",
        "dossiers:finance",
        "events:read",
    }
)
"""Scopes a client holds on its own (client credentials): no person is involved, or (the
events feed) every person who consented to the client at once."""
PERSON_SCOPES: Final[frozenset[Scope]] = frozenset(SCOPES) - MACHINE_SCOPES
"""Scopes that touch a person's data: only through the person's consent (code flow)."""
