"""Participation forfaitaire tables (CT L6323-7, décret 2024-394, arrêtés of revaluation)."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.errors import InvalidInput
from cpa.rules.copayment import CopaymentSituation, copayment

NONE = CopaymentSituation()


@pytest.mark.parametrize(
    ("price", "rights", "situation", "on", "holder", "debit", "source"),
    [
        (150000, 200000, NONE, dt.date(2024, 5, 1), 0, 150000, "not due before 2024-05-02"),
        (150000, 200000, NONE, dt.date(2024, 5, 2), 10000, 140000, "draft-decree example 1"),
        (250000, 200000, NONE, dt.date(2024, 6, 1), 50000, 200000, "draft-decree example 2"),
        (250000, 200000, NONE, dt.date(2024, 5, 1), 50000, 200000, "remainder before 2024-05-02"),
        (150000, 200000, NONE, dt.date(2024, 12, 31), 10000, 140000, "100 € until 2024-12-31"),
        (150000, 200000, NONE, dt.date(2025, 1, 1), 10223, 139777, "arrêté 26 Dec 2024"),
        (150000, 200000, NONE, dt.date(2025, 12, 31), 10223, 139777, "102.23 € all 2025"),
        (150000, 200000, NONE, dt.date(2026, 1, 1), 10320, 139680, "arrêté 30 Dec 2025"),
        (5000, 200000, NONE, dt.date(2026, 3, 1), 5000, 0, "capped at the price"),
        (150000, 0, NONE, dt.date(2026, 3, 1), 150000, 0, "no rights"),
        (0, 0, NONE, dt.date(2026, 3, 1), 0, 0, "free training"),
        (
            150000,
            200000,
            CopaymentSituation(job_seeker=True),
            dt.date(2026, 3, 1),
            0,
            150000,
            "job seeker",
        ),
        (
            150000,
            200000,
            CopaymentSituation(employer_abondement=True),
            dt.date(2026, 3, 1),
            0,
            150000,
            "employer abondement",
        ),
        (
            150000,
            200000,
            CopaymentSituation(c2p_points=True),
            dt.date(2026, 3, 1),
            0,
            150000,
            "C2P points",
        ),
        (
            150000,
            200000,
            CopaymentSituation(atmp_reconversion=True),
            dt.date(2026, 3, 1),
            0,
            150000,
            "AT/MP abondement",
        ),
        (
            250000,
            200000,
            CopaymentSituation(job_seeker=True),
            dt.date(2026, 3, 1),
            50000,
            200000,
            "exempt still pays the remainder",
        ),
    ],
)
def test_copayment(
    price: int,
    rights: int,
    situation: CopaymentSituation,
    on: dt.date,
    holder: int,
    debit: int,
    source: str,
) -> None:
    result = copayment(price, rights, situation, on)
    assert (result.holder_pays_cents, result.rights_debit_cents) == (holder, debit)
    assert result.holder_pays_cents + result.rights_debit_cents == price
    assert result.trace.rule_id == "cpf.pfo.amount"


def test_trace_before_2024_explains_why_nothing_is_due() -> None:
    result = copayment(1000, 1000, NONE, dt.date(2020, 1, 1))
    assert result.flat_amount_cents == 0
    assert "2024-05-02" in result.trace.note


@pytest.mark.parametrize(("price", "rights"), [(-1, 0), (0, -1)])
def test_negative_amounts_are_refused(price: int, rights: int) -> None:
    with pytest.raises(InvalidInput):
        copayment(price, rights, NONE, dt.date(2026, 1, 1))
