"""Structs of the ledger: entries, holds, grants, credits, C2P uses and the account read model.

Every amount names its unit: ``*_cents`` (euros × 100), ``*_hours``, ``*_points``; a ledger
entry's ``amount`` is in its ``unit``, which its pot decides (``cpa.rules.accounts.POT_UNITS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal
from uuid import UUID

import msgspec

from cpa.linked_services.models import (
    LinkedServiceView as LinkedServiceView,  # the account shows them
)
from cpa.provenance import SYSTEM as SYSTEM  # kernel; re-exported for the ledger's writes
from cpa.provenance import Provenance as Provenance
from cpa.rules import C2pUse, Trace
from cpa.rules.accounts import POT_ACCOUNTS
from cpa.rules.accounts import POT_UNITS as POT_UNITS  # the one pot → unit map (re-exported)
from cpa.rules.accounts import CreditAccount as CreditAccount
from cpa.rules.accounts import Pot as Pot  # re-exported: the ledger speaks of pots
from cpa.rules.accounts import Unit as Unit
from cpa.scopes import Scope

EntryKind = Literal[
    "accrual",
    "adjustment",
    "conversion",
    "hold",
    "hold_post",
    "hold_void",
    "hold_expire",
    "abondement",
    "dotation",
    "c2p_use",
]
HoldStatus = Literal["pending", "posted", "voided", "expired"]
GrantPot = Literal["abondement", "dotation"]
# Scopes are data masks: which scope shows which pots (entries) and sections (account).
ACCOUNT_SCOPES: Mapping[CreditAccount, Scope] = {
    "cpf": "cpf:read",
    "cec": "cec:read",
    "c2p": "c2p:read",
}
POT_SCOPES: Mapping[Pot, Scope] = {
    pot: ACCOUNT_SCOPES[account] for pot, account in POT_ACCOUNTS.items()
}


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    pot: Pot
    kind: EntryKind
    amount: int
    effective_on: dt.date
    correlation_id: UUID
    grant_id: UUID | None = None
    hold_id: UUID | None = None
    credit_year: int | None = None
    trace: Trace | None = None
    declaration_id: UUID | None = None


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    pot: Pot
    kind: EntryKind
    amount: int
    unit: Unit
    effective_on: dt.date
    correlation_id: UUID
    grant_id: UUID | None
    hold_id: UUID | None
    credit_year: int | None
    rule_id: str | None
    legal_reference: str | None
    declaration_id: UUID | None
    created_at: dt.datetime


class EntryFilter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pot: Pot | None = None
    kind: EntryKind | None = None
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None  # inclusive


class EntryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Entry]
    next_cursor: str | None = None


class DeclarationRef(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["activity", "c2p_exposure", "cec_engagement"]
    id: UUID
    year: int
    body: dict[str, Any]
    created_at: dt.datetime


class EntryExplanation(msgspec.Struct, frozen=True, kw_only=True):
    """Why an entry is there: the rule trace, the legal reference and the source declaration."""

    entry: Entry
    rule_id: str | None = None
    parameter_effective_from: dt.date | None = None
    legal_reference: str | None = None
    trace: dict[str, Any] | None = None
    declaration: DeclarationRef | None = None


# -- holds ---------------------------------------------------------------------------------


class NewHold(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount_cents: int
    training_reference: str
    expires_at: dt.datetime


class HoldPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount_cents: int


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    pot: Literal["cpf_statutory", "cec", "abondement", "dotation"]
    grant_id: UUID | None
    amount_cents: int


class HoldView(msgspec.Struct, frozen=True, kw_only=True):
    """A hold, as its training body sees it; ``allocations`` say which pots the euros left."""

    id: UUID
    amount_cents: int
    training_reference: str
    expires_at: dt.datetime
    status: HoldStatus
    posted_cents: int | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    allocations: list[Allocation]


class Hold(HoldView, frozen=True, kw_only=True):
    """A hold with what stays inside: its person and the client that placed it."""

    person_id: UUID
    client_id: str | None = None


# -- grants --------------------------------------------------------------------------------


class NewGrant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An abondement or a dotation: outside the ceilings, optionally earmarked."""

    pot: GrantPot
    amount_cents: int
    financer: str
    earmarked: bool = False
    training_reference: str | None = None
    use_by: dt.date | None = None


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    person_id: UUID
    pot: GrantPot
    financer: str
    earmarked: bool
    training_reference: str | None
    use_by: dt.date | None


# -- crediting -----------------------------------------------------------------------------


class CreditLine(msgspec.Struct, frozen=True, kw_only=True):
    """What one account received for one year in this run (``delta`` 0: nothing changed)."""

    account: CreditAccount
    unit: Unit
    amount: int
    delta: int
    kind: Literal["accrual", "adjustment", "unchanged"]


class CreditResult(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    year: int
    lines: list[CreditLine]

    @property
    def changed(self) -> bool:
        return any(line.delta for line in self.lines)


class CreditRunReport(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    persons: int
    changed: int
    unchanged: int


class LedgerMismatch(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    pot: str
    grant_id: UUID | None
    balance: int | None
    entries_sum: int | None


class LedgerReport(msgspec.Struct, frozen=True, kw_only=True):
    balances_checked: int
    entries_checked: int
    mismatches: list[LedgerMismatch]
    stale_summaries: list[UUID]
    """Persons whose account summary (what the account read shows) differs from a fresh build."""
    overdrawn: list[LedgerMismatch] = []
    """Balances below zero in a pot that may not owe (``rules.accounts.DEBT_POTS``)."""
    unbalanced_holds: list[UUID] = []
    """Holds whose allocations do not add up to the amount they reserve."""

    @property
    def ok(self) -> bool:
        return not (
            self.mismatches or self.stale_summaries or self.overdrawn or self.unbalanced_holds
        )


# -- C2P uses ------------------------------------------------------------------------------


class C2pConversionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    use: C2pUse
    points: int
    training_reference: str | None = None
    reduction_basis_points: int = 5000


class C2pConversionResult(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    use: C2pUse
    points: int
    reserved_points_used: int
    converted_on: dt.date
    amount_cents: int | None = None
    grant_id: UUID | None = None
    part_time_days: int | None = None
    part_time_months_at_half_time: int | None = None
    retirement_quarters: int | None = None
    legal_reference: str = ""


class C2pConversionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A use of C2P points as recorded (what ``Location`` names after the use)."""

    id: UUID
    use: C2pUse
    points: int
    reserved_points_used: int
    converted_on: dt.date
    amount_cents: int | None
    part_time_days: int | None
    retirement_quarters: int | None
    training_reference: str | None
    grant_id: UUID | None
    created_at: dt.datetime


# -- the aggregated account ----------------------------------------------------------------


class CpfView(msgspec.Struct, frozen=True, kw_only=True):
    """CPF euros. ``available_cents`` is what a hold may take now (CEC rights included)."""

    available_cents: int
    held_cents: int
    statutory_cents: int
    abondements_cents: int
    debt_cents: int


class CecView(msgspec.Struct, frozen=True, kw_only=True):
    balance_cents: int


class C2pView(msgspec.Struct, frozen=True, kw_only=True):
    points_available: int
    points_reserved_for_training: int
    debt_points: int


class Account(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The whole account in one read; a section is absent when the scopes do not show it."""

    person_id: UUID
    as_of: dt.datetime
    last_credited_on: dt.date | None = None
    cpf: CpfView | None = None
    cec: CecView | None = None
    c2p: C2pView | None = None
    services: list[LinkedServiceView] | None = None
