"""The order in which a CPF debit draws on the holder's pots (décret 2025-1156, CT R6333-3).

1) sums earmarked to the account (employer dotations, abondements earmarked to it), the soonest
use-by date first; 2) the holder's statutory rights; 3) CEC rights; 4) complementary abondements
not earmarked. The order is the dated parameter ``cpf.debit.order`` (cpf.toml); which pot a source
names, and whether a pot may fund a given debit at all (use-by date, training it is earmarked to,
retirement, death), is the ledger's data, applied by ``pots_for_debit`` (sql/schema.sql),
which receives this order as an argument: SQL holds no copy of it. Every hold records the trace
below on each of its allocations.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

import msgspec

from cpa.rules.params import PARAMETERS, ParameterFileError, ParamValue, names_value, value_at
from cpa.rules.trace import Trace

__all__ = ["DEBIT_ORDER_PARAMETER", "DebitOrder", "DebitSource", "debit_order"]

DEBIT_ORDER_PARAMETER = "cpf.debit.order"
DebitSource = Literal["earmarked", "cpf_statutory", "cec", "abondement"]


class DebitOrder(msgspec.Struct, frozen=True):
    """The sources a debit draws on, first to last, and why (the parameter and its reference)."""

    sources: list[str]
    trace: Trace

    @property
    def parameter(self) -> ParamValue:
        return self.trace.main


def debit_order(on: dt.date) -> DebitOrder:
    """The order in force on ``on`` (built once per parameter value: this is the hold path)."""
    return _ORDERS[value_at(DEBIT_ORDER_PARAMETER, on).effective_from]


def _build(param: ParamValue) -> DebitOrder:
    sources = names_value(param)
    unknown = set(sources) - set(get_args(DebitSource))
    if unknown or len(set(sources)) != len(sources):
        raise ParameterFileError(f"{param.id}: unknown or repeated sources in {sources}")
    trace = Trace(param.id, (param,), {})
    return DebitOrder(list(sources), trace)


_ORDERS = {
    value.effective_from: _build(value)
    for value in PARAMETERS.series[DEBIT_ORDER_PARAMETER].values
    if value is not None
}
