"""The debit order (décret 2025-1156, CT R6333-3) as a dated rule with its reference."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.rules.debit import debit_order

ORDER = ["earmarked", "cpf_statutory", "cec", "abondement"]


@pytest.mark.parametrize(
    ("on", "effective_from", "article", "evidence"),
    [
        (dt.date(2024, 6, 1), dt.date(2015, 1, 1), "CT L6323-4", "R"),  # a cpa decision
        (dt.date(2025, 12, 4), dt.date(2015, 1, 1), "CT L6323-4", "R"),
        (dt.date(2025, 12, 5), dt.date(2025, 12, 5), "CT R6333-3", "V"),  # décret 2025-1156
        (dt.date(2030, 1, 1), dt.date(2025, 12, 5), "CT R6333-3", "V"),
    ],
)
def test_order_by_date(on: dt.date, effective_from: dt.date, article: str, evidence: str) -> None:
    order = debit_order(on)
    assert order.sources == ORDER
    assert order.trace.rule_id == "cpf.debit.order"
    assert order.trace.parameter_effective_from == effective_from
    assert order.trace.legal_reference == article
    assert order.parameter.reference.evidence == evidence


@pytest.mark.parametrize(
    ("on", "after_retirement"),
    [(dt.date(2016, 6, 1), []), (dt.date(2017, 1, 1), ["cec"]), (dt.date(2026, 1, 1), ["cec"])],
)
def test_sources_usable_after_retirement(on: dt.date, after_retirement: list[str]) -> None:
    """CT L6323-2: after full-rate retirement only CEC rights (which exist from 2017) fund."""
    assert debit_order(on).after_retirement == after_retirement


def test_a_retired_holder_draws_only_on_what_the_order_keeps() -> None:
    order = debit_order(dt.date(2026, 1, 1))
    assert order.usable(retired=False) == ORDER
    assert order.usable(retired=True) == ["cec"]
    assert debit_order(dt.date(2016, 6, 1)).usable(retired=True) == []
