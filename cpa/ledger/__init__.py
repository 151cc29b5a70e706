"""Ledger: each person's CPF (euros), CEC (euros) and C2P (points), append-only.

A balance changes only by appending entries (the database refuses UPDATE and DELETE on
``ledger_entries``); each entry states its unit, kind, effective date and provenance (rule id,
parameter date and legal reference from the rules trace, source declaration, client, token
``jti``, idempotency key); paired entries share a correlation id. Balances per person and pot
are kept in the same statement, and ``verify_ledger`` proves them equal to their entries.

Modules (each a "load → rules → assert → write" service usable from HTTP, CLI, campaign, tests):

- ``journal``: append entries + balances, the per-person lock, ``verify_ledger``.
- ``allocation``: the debit order of décret 2025-1156 (pure).
- ``holds``: two-phase debits of CPF rights — create, post, void, expiry.
- ``crediting``: ``credit_year`` / ``credit_all`` with ``cpa.rules`` (CT L6323-11, L5151-9,
  R4163-9), adjustments for corrected declarations and debts (domain.md OQ-5).
- ``uses``: abondements and dotations (CT L6323-4), C2P uses (CT L4163-7 ff.).
- ``account``: the aggregated account in one round trip, entries, explanations; scopes mask.
- ``demo``, ``cli``: demo careers; ``python -m cpa credit --year N`` and ``ledger verify``.
"""

from cpa.ledger.account import explain_entry, get_account, list_entries
from cpa.ledger.crediting import credit_all, credit_year
from cpa.ledger.entries import verify_ledger
from cpa.ledger.errors import (
    AmountBeyondHeld,
    ConversionNotFound,
    EntryNotFound,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientRights,
    InvalidAmount,
    InvalidCursor,
    YearNotClosed,
)
from cpa.ledger.holds import (
    HoldPage,
    create_hold,
    create_hold_once,
    expire_holds,
    get_hold,
    list_client_holds,
    list_holds,
    post_hold,
    void_hold,
)
from cpa.ledger.models import (
    SYSTEM,
    Account,
    C2pConversionRequest,
    C2pConversionResult,
    Entry,
    EntryExplanation,
    EntryFilter,
    EntryPage,
    Grant,
    Hold,
    HoldPost,
    LedgerReport,
    NewGrant,
    NewHold,
    Provenance,
)
from cpa.ledger.sweep import SWEEP_INTERVAL_S, sweep_lapsed_holds
from cpa.ledger.uses import add_grant, convert_c2p, get_c2p_conversion

__all__ = [
    "SWEEP_INTERVAL_S",
    "SYSTEM",
    "Account",
    "AmountBeyondHeld",
    "C2pConversionRequest",
    "C2pConversionResult",
    "ConversionNotFound",
    "Entry",
    "EntryExplanation",
    "EntryFilter",
    "EntryNotFound",
    "EntryPage",
    "Grant",
    "Hold",
    "HoldExpired",
    "HoldNotFound",
    "HoldNotPending",
    "HoldPage",
    "HoldPost",
    "InsufficientRights",
    "InvalidAmount",
    "InvalidCursor",
    "LedgerReport",
    "NewGrant",
    "NewHold",
    "Provenance",
    "YearNotClosed",
    "add_grant",
    "convert_c2p",
    "create_hold",
    "create_hold_once",
    "credit_all",
    "credit_year",
    "expire_holds",
    "explain_entry",
    "get_account",
    "get_c2p_conversion",
    "get_hold",
    "list_client_holds",
    "list_entries",
    "list_holds",
    "post_hold",
    "sweep_lapsed_holds",
    "verify_ledger",
    "void_hold",
]
