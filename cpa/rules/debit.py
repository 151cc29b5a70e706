"""The order in which a CPF debit draws on the holder's pots (décret 2025-1156, CT R6333-3).

1) sums earmarked to the account (employer dotations, abondements earmarked to it), the soonest
use-by date first; 2) the holder's statutory rights; 3) CEC rights; 4) complementary abondements
not earmarked. After full-rate retirement only CEC rights stay usable (CT L6323-2). Both are
dated parameters (``cpf.debit.order``, ``cpf.debit.after_retirement`` in cpf.toml), passed as
arguments to ``pots_for_debit`` (sql/schema.sql), which holds no copy of them; it applies the
ledger's own facts (a grant's use-by date and training, a balance below zero, death). Every
hold records the trace below on each of its allocations.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

import msgspec

from cpa.rules.params import PARAMETERS, ParameterFileError, ParamValue, names_value, value_at
from cpa.rules.trace import Trace

__all__ = ["DEBIT_ORDER_PARAMETER", "DebitOrder", "DebitSource", "debit_order"]

DEBIT_ORDER_PARAMETER = "cpf.debit.order"
AFTER_RETIREMENT_PARAMETER = "cpf.debit.after_retirement"
DebitSource = Literal["earmarked", "cpf_statutory", "cec", "abondement"]


class DebitOrder(msgspec.Struct, frozen=True):
    """The sources a debit draws on, first to last, those still usable after full-rate
    retirement, and why (``trace.main``: the order's parameter and its reference)."""

    sources: list[str]
    after_retirement: list[str]
    trace: Trace

    @property
    def parameter(self) -> ParamValue:
        return self.trace.main

    def usable(self, *, retired: bool) -> list[str]:
        """The sources a debit may draw on, first to last: after full-rate retirement only
        those the order keeps (CT L6323-2)."""
        return [s for s in self.sources if not retired or s in self.after_retirement]

    @property
    def statutory_first(self) -> bool:
        """Whether a holder without earmarked sums draws on statutory rights first: then a
        debit they cover takes them alone (the lean hold, ``create_hold_lean``)."""
        if "cpf_statutory" not in self.sources:
            return False
        return set(self.sources[: self.sources.index("cpf_statutory")]) <= {"earmarked"}


def debit_order(on: dt.date) -> DebitOrder:
    """The order in force on ``on`` (built once per pair of values: this is the hold path)."""
    order = value_at(DEBIT_ORDER_PARAMETER, on)
    after = value_at(AFTER_RETIREMENT_PARAMETER, on)
    key = (order.effective_from, after.effective_from)
    found = _ORDERS.get(key)
    if found is None:
        found = _ORDERS[key] = _build(order, after)
    return found


def _build(order: ParamValue, after: ParamValue) -> DebitOrder:
    sources, usable_after = names_value(order), names_value(after)
    known = set(get_args(DebitSource))
    if not set(sources) <= known or len(set(sources)) != len(sources):
        raise ParameterFileError(f"{order.id}: unknown or repeated sources in {sources}")
    if not set(usable_after) <= set(sources):
        raise ParameterFileError(f"{after.id}: {usable_after} not all in {order.id}")
    trace = Trace(order.id, (order, after), {})
    return DebitOrder(list(sources), list(usable_after), trace)


_ORDERS: dict[tuple[dt.date, dt.date], DebitOrder] = {}


def _check_files() -> None:
    """Refuse at import (like the parameter loader) any value naming an unknown source."""
    orders = [v for v in PARAMETERS.series[DEBIT_ORDER_PARAMETER].values if v is not None]
    afters = [v for v in PARAMETERS.series[AFTER_RETIREMENT_PARAMETER].values if v is not None]
    for order in orders:
        for after in afters:
            _build(order, after)


_check_files()
