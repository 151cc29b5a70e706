"""Operating errors of the ledger: holds, rights, crediting."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class InsufficientRights(Conflict, slug="insufficient-rights", status=422):
    """Not enough CPF rights for this amount."""


class InvalidAmount(InvalidInput, slug="invalid-amount"):
    """The amount must be a positive whole number of cents."""


class HoldNotFound(NotFound, slug="hold-not-found"):
    """No such hold on this account."""


class ConversionNotFound(NotFound, slug="c2p-conversion-not-found"):
    """No such C2P conversion on this account."""


class HoldNotPending(Conflict, slug="hold-not-pending"):
    """The hold was already posted, voided or expired: it cannot change again."""


class HoldExpired(Conflict, slug="hold-expired"):
    """The hold has expired: its rights are released."""


class AmountBeyondHeld(InvalidInput, slug="amount-beyond-held"):
    """The amount is larger than what the hold reserves."""


class YearNotClosed(InvalidInput, slug="year-not-closed"):
    """Rights for a year are credited from the next year on, and for no year before 2015."""


class EntryNotFound(NotFound, slug="entry-not-found"):
    """No such entry on this account."""


class InvalidCursor(InvalidInput, slug="invalid-cursor"):
    """The pagination cursor is not valid."""


register(
    {
        "ledger_balances_no_overdraft": InsufficientRights,
        "cpf_holds_amount_positive": InvalidAmount,
        "cpf_hold_allocations_amount_positive": InvalidAmount,
        "c2p_conversions_points_positive": InvalidAmount,
    }
)
