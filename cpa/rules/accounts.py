"""The three accounts as the law frames them: the first year each one counts, and the account
and unit of every ledger pot.

- First years come from the parameter files (``cpf.opened_on``: loi 2014-288, CT L6323-1;
  ``cec.opened_on``: loi 2016-1088 art. 39; ``c2p.opened_on``: loi 2014-40), so a declaration,
  a simulation and the database's year checks all refuse the same years.
- Units: the CPF and the CEC count in euros (integer cents) since 2019-01-01 (loi 2018-771,
  décret 2018-1349) and in hours before, kept in their own ``*_hours`` pots until the one-off
  conversion; the C2P counts in points (CT R4163-9).

SQL receives these as data: ``account_first_year`` and ``pot_unit`` (sql/schema.sql) are
generated constants, proven equal to this module by tests/ledger/test_rules_in_sql.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from cpa.rules.params import date_value, first_value

__all__ = [
    "ACCOUNT_FIRST_YEARS",
    "FIRST_C2P_YEAR",
    "FIRST_CEC_YEAR",
    "FIRST_CPF_YEAR",
    "FIRST_YEAR",
    "LAST_YEAR",
    "POTS",
    "POT_ACCOUNTS",
    "POT_UNITS",
    "CreditAccount",
    "Pot",
    "Unit",
]

FIRST_CPF_YEAR = date_value(first_value("cpf.opened_on")).year
FIRST_CEC_YEAR = date_value(first_value("cec.opened_on")).year
FIRST_C2P_YEAR = date_value(first_value("c2p.opened_on")).year
FIRST_YEAR = min(FIRST_CPF_YEAR, FIRST_CEC_YEAR, FIRST_C2P_YEAR)  # the first any account counts
LAST_YEAR = 2100  # not law: a bound on the years anyone may declare or simulate

Pot = Literal[
    "cpf_statutory",  # statutory CPF rights, subject to the 5,000/8,000 € ceilings
    "cpf_hours",  # 2015–2018 CPF hours, converted at 15 €/h (décret 2018-1153)
    "cec",  # CEC rights inscribed on the CPF (720 € ceiling)
    "cec_hours",  # 2017–2018 CEC hours, converted at 12 €/h (décret 2018-1349)
    "abondement",  # complementary or earmarked abondements, one sub-pot per grant
    "dotation",  # employer dotations (CT L6323-4 III), one sub-pot per grant
    "cpf_held",  # euros reserved by pending holds
    "c2p",  # C2P points
]
Unit = Literal["cents", "hours", "points"]

CreditAccount = Literal["cpf", "cec", "c2p"]
"""The three accounts a year's rights are credited to (``ledger_credits.account``)."""

# The one table of pots: the account each belongs to and the unit of its amounts.
POTS: Mapping[Pot, tuple[CreditAccount, Unit]] = {
    "cpf_statutory": ("cpf", "cents"),
    "cpf_hours": ("cpf", "hours"),
    "cec": ("cec", "cents"),
    "cec_hours": ("cec", "hours"),
    "abondement": ("cpf", "cents"),
    "dotation": ("cpf", "cents"),
    "cpf_held": ("cpf", "cents"),
    "c2p": ("c2p", "points"),
}
POT_ACCOUNTS: Mapping[Pot, CreditAccount] = {pot: account for pot, (account, _) in POTS.items()}
POT_UNITS: Mapping[Pot, Unit] = {pot: unit for pot, (_, unit) in POTS.items()}

# The first year of each account, by the name SQL uses for it (``ledger_credits.account``).
ACCOUNT_FIRST_YEARS: Mapping[CreditAccount, int] = {
    "cpf": FIRST_CPF_YEAR,
    "cec": FIRST_CEC_YEAR,
    "c2p": FIRST_C2P_YEAR,
}
