"""Operating errors of the ledger: holds, rights, crediting."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class InsufficientRights(Conflict):
    """Not enough CPF rights for this amount."""

    slug = "insufficient-rights"
    status = 422


class InvalidAmount(InvalidInput):
    """The amount must be a positive whole number of cents."""

    slug = "invalid-amount"


class HoldNotFound(NotFound):
    """No such hold on this account."""

    slug = "hold-not-found"


class HoldNotPending(Conflict):
    """The hold was already posted, voided or expired: it cannot change again."""

    slug = "hold-not-pending"


class HoldExpired(Conflict):
    """The hold has expired: its rights are released."""

    slug = "hold-expired"


class AmountBeyondHeld(InvalidInput):
    """The amount is larger than what the hold reserves."""

    slug = "amount-beyond-held"


class YearNotClosed(InvalidInput):
    """Rights for a year are credited from the next year on."""

    slug = "year-not-closed"


class EntryNotFound(NotFound):
    """No such entry on this account."""

    slug = "entry-not-found"


class InvalidCursor(InvalidInput):
    """The pagination cursor is not valid."""

    slug = "invalid-cursor"


register(
    {
        "ledger_balances_no_overdraft": InsufficientRights,
        "cpf_holds_amount_positive": InvalidAmount,
        "cpf_hold_allocations_amount_positive": InvalidAmount,
        "c2p_conversions_points_positive": InvalidAmount,
    }
)
