"""A person's year of declarations → what each account credits: the one orchestration of the
yearly campaign, run for real by ``cpa.ledger.crediting`` and on paper by ``cpa.simulation``.

For each account the year has inputs for, the pot it credits (the hours pots before 2019, the
euro pots from then, points for the C2P) and the accrual rule applied against the balance its
ceiling reads (CT L6323-11 ff., L5151-9 ff., R4163-9), the CPF's stopping by retirement or age
included (CT L6323-3 al. 3, ``cpa.rules.ages``); then, once the euro era has begun, the one-off
conversion of the hours stocks (décrets 2018-1153 and 2018-1349). Pure: the caller gives the
balances (the ledger's, or the simulation's running sums) and turns each credit into its own
entry. A year's rights are credited by the campaign of spring N+1 (``campaign_date``): the
simulation shows the year in progress as projected credits expected on that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

import msgspec

from cpa.rules.accounts import FIRST_CEC_YEAR, POT_UNITS, CreditAccount, Pot, Unit
from cpa.rules.c2p import Exposure, c2p_year_points
from cpa.rules.cec import (
    Engagement,
    cec_convert_hours_to_cents,
    cec_hours_year_accrual,
    cec_year_accrual,
)
from cpa.rules.cpf import (
    FIRST_EURO_YEAR,
    Activity,
    PersonYearStatus,
    convert_hours_to_cents,
    cpf_hours_year_accrual,
    cpf_year_accrual,
)
from cpa.rules.params import ParamValue, int_value, value_at
from cpa.rules.trace import Trace

__all__ = [
    "CreditAccount",
    "HoursConversion",
    "YearCredit",
    "YearInputs",
    "campaign_date",
    "credit_pot",
    "hours_conversions",
    "year_credit",
    "year_credits",
]


class YearInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What a person declared for one year, in the rules' terms; None: nothing to credit."""

    year: int
    birth_date: dt.date
    status: PersonYearStatus
    activities: Sequence[Activity] | None = None
    engagements: Sequence[Engagement] | None = None
    exposures: Sequence[Exposure] | None = None

    def accounts(self) -> list[CreditAccount]:
        """The accounts this year credits, in campaign order."""
        accounts: list[CreditAccount] = []
        if self.activities is not None:
            accounts.append("cpf")
        if self.engagements is not None and self.year >= FIRST_CEC_YEAR:
            accounts.append("cec")
        if self.exposures is not None:
            accounts.append("c2p")
        return accounts


class YearCredit(msgspec.Struct, frozen=True, kw_only=True):
    """One account's credit for a year: ``amount`` (after its ceiling) in ``unit``."""

    account: CreditAccount
    year: int
    pot: Pot
    unit: Unit
    amount: int
    gross: int
    ceiling: int | None  # None: no ceiling (C2P points)
    capped: bool
    trace: Trace


class HoursConversion(msgspec.Struct, frozen=True, kw_only=True):
    """The conversion of an hours stock into euros: ``-hours`` out of ``source``, ``cents`` in."""

    source: Pot
    target: Pot
    hours: int
    amount_cents: int
    trace: Trace


def credit_pot(account: CreditAccount, year: int) -> Pot:
    """The pot a year's credit goes to: hours before the euro era (2019), euros since."""
    if account == "c2p":
        return "c2p"
    hours = year < FIRST_EURO_YEAR
    if account == "cpf":
        return "cpf_hours" if hours else "cpf_statutory"
    return "cec_hours" if hours else "cec"


def campaign_date(year: int) -> tuple[dt.date, tuple[ParamValue, ...]]:
    """The day by which the campaign of N+1 credits the rights of ``year`` (CPF, and the CEC
    inscribed on it, CT L6323-11; the C2P in the same run of cpa's ledger), and its parameters."""
    on = dt.date(year + 1, 1, 1)
    month, day = value_at("cpf.campaign.last_month", on), value_at("cpf.campaign.last_day", on)
    return dt.date(year + 1, int_value(month), int_value(day)), (month, day)


def year_credits(inputs: YearInputs, balances: Mapping[str, int]) -> list[YearCredit]:
    """Every account's credit for the year; ``balances``: per account, what its ceiling reads."""
    return [year_credit(inputs, account, balances[account]) for account in inputs.accounts()]


def year_credit(inputs: YearInputs, account: CreditAccount, balance: int) -> YearCredit:
    """One account's credit for the year against ``balance`` (hours, cents or points before)."""
    pot = credit_pot(account, inputs.year)
    unit = POT_UNITS[pot]
    accrued = _accrue(inputs, account, unit == "hours", balance)
    return YearCredit(account=account, year=inputs.year, pot=pot, unit=unit, **accrued._asdict())


class _Accrued(NamedTuple):
    """What every account's rule gives for a year, by the names ``YearCredit`` uses."""

    amount: int
    gross: int
    ceiling: int | None
    capped: bool
    trace: Trace


def _accrue(inputs: YearInputs, account: CreditAccount, hours: bool, balance: int) -> _Accrued:
    year, activities, engagements = inputs.year, inputs.activities or (), inputs.engagements or ()
    if account == "c2p":
        p = c2p_year_points(year, inputs.exposures or (), inputs.birth_date, balance)
        return _Accrued(p.points, p.gross_points, None, p.points < p.gross_points, p.trace)
    # The CPF stops at the automatic full-rate age of the person's birth cohort (L5421-4 1°).
    status = msgspec.structs.replace(inputs.status, birth_date=inputs.birth_date)
    if account == "cpf" and hours:
        h = cpf_hours_year_accrual(year, activities, status, balance)
        return _Accrued(h.amount_hours, h.gross_hours, h.ceiling_hours, h.capped, h.trace)
    if account == "cpf":
        e = cpf_year_accrual(year, activities, status, balance)
        return _Accrued(e.amount_cents, e.gross_cents, e.ceiling_cents, e.capped, e.trace)
    if hours:
        ch = cec_hours_year_accrual(year, engagements, balance)
        return _Accrued(ch.amount_hours, ch.gross_hours, ch.ceiling_hours, ch.capped, ch.trace)
    ce = cec_year_accrual(year, engagements, balance)
    return _Accrued(ce.amount_cents, ce.gross_cents, ce.ceiling_cents, ce.capped, ce.trace)


class _Converted(Protocol):
    """What a pot's hours → euros conversion gives (CPF and CEC alike)."""

    @property
    def amount_cents(self) -> int: ...
    @property
    def trace(self) -> Trace: ...


def hours_conversions(cpf_hours: int, cec_hours: int) -> list[HoursConversion]:
    """The conversion of whatever hours stock is left, once the euro era has begun: CPF at
    15 €/h (décret 2018-1153), CEC at 12 €/h (décret 2018-1349); nothing for an empty stock."""
    stocks: tuple[tuple[Pot, Pot, int, Callable[[int], _Converted]], ...] = (
        ("cpf_hours", "cpf_statutory", cpf_hours, convert_hours_to_cents),
        ("cec_hours", "cec", cec_hours, cec_convert_hours_to_cents),
    )
    conversions = []
    for source, target, hours, convert in stocks:
        if hours:
            converted = convert(hours)
            conversions.append(
                HoursConversion(
                    source=source,
                    target=target,
                    hours=hours,
                    amount_cents=converted.amount_cents,
                    trace=converted.trace,
                )
            )
    return conversions
