"""Constraint names of the ledger, declarations and services tables → operating errors.

The one place where a database refusal becomes a domain error: services run their writes
inside ``domain_errors()``; a constraint not listed here stays a programmer error (re-raised).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from cpa.accounts.errors import PersonNotFound
from cpa.errors import Conflict, CpaError, InvalidInput
from cpa.ledger.errors import InsufficientRights, InvalidAmount


class ConcurrentDeclaration(Conflict):
    """Another declaration for the same person and year was recorded at the same time."""

    slug = "concurrent-declaration"


class ServiceNotFound(CpaError):
    """No such service in the catalogue."""

    slug = "service-not-found"
    status = 404


class ServiceAlreadyLinked(Conflict):
    """This service is already linked to the account."""

    slug = "service-already-linked"


CONSTRAINT_ERRORS: dict[str, type[CpaError]] = {
    "ledger_balances_no_overdraft": InsufficientRights,
    "cpf_holds_amount_positive": InvalidAmount,
    "cpf_hold_allocations_amount_positive": InvalidAmount,
    "c2p_conversions_points_positive": InvalidAmount,
    "idempotency_keys_key_length": InvalidInput,
    "activity_declarations_revision_key": ConcurrentDeclaration,
    "c2p_exposure_declarations_revision_key": ConcurrentDeclaration,
    "activity_declarations_year_range": InvalidInput,
    "c2p_exposure_declarations_year_range": InvalidInput,
    "cec_engagements_year_range": InvalidInput,
    "service_links_pkey": ServiceAlreadyLinked,
    "service_links_service_id_fkey": ServiceNotFound,
    "linked_services_category_known": InvalidInput,
}
_PERSON_FKEY_SUFFIX = "_person_id_fkey"


def domain_error(error: asyncpg.IntegrityConstraintViolationError) -> CpaError | None:
    """The operating error a constraint violation means, or None for a programmer error."""
    name = getattr(error, "constraint_name", None) or ""
    if name.endswith(_PERSON_FKEY_SUFFIX):
        return PersonNotFound()
    kind = CONSTRAINT_ERRORS.get(name)
    return kind(f"refused by {name}") if kind else None


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        mapped = domain_error(error)
        if mapped is None:
            raise
        raise mapped from error
