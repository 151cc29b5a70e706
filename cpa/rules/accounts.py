"""The three accounts as the law frames them: the first year each one counts.

- First years come from the parameter files (``cpf.opened_on``: loi 2014-288, CT L6323-1;
  ``cec.opened_on``: loi 2016-1088 art. 39; ``c2p.opened_on``: loi 2014-40), so a declaration,
  a simulation and the database's year checks all refuse the same years.

SQL receives these as data: ``account_first_year`` (sql/migrations/0010) is a
generated constant, proven equal to this module by tests/ledger/test_rules_in_sql.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from cpa.rules.params import date_value, first_value

__all__ = [
    "ACCOUNT_FIRST_YEARS",
    "FIRST_C2P_YEAR",
    "FIRST_CEC_YEAR",
    "FIRST_CPF_YEAR",
    "FIRST_YEAR",
    "LAST_YEAR",
]

FIRST_CPF_YEAR = date_value(first_value("cpf.opened_on")).year
FIRST_CEC_YEAR = date_value(first_value("cec.opened_on")).year
FIRST_C2P_YEAR = date_value(first_value("c2p.opened_on")).year
FIRST_YEAR = min(FIRST_CPF_YEAR, FIRST_CEC_YEAR, FIRST_C2P_YEAR)  # the first any account counts
LAST_YEAR = 2100  # not law: a bound on the years anyone may declare or simulate

# The first year of each account, by the name SQL uses for it (``ledger_credits.account``).
ACCOUNT_FIRST_YEARS: Mapping[str, int] = {
    "cpf": FIRST_CPF_YEAR,
    "cec": FIRST_CEC_YEAR,
    "c2p": FIRST_C2P_YEAR,
}
