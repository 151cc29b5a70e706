"""Participation forfaitaire: the flat amount a holder pays on a CPF purchase (CT L6323-7).

Due from 2024-05-02 (décret 2024-394), revalued each 1 January; not due for job seekers, trainings
with an employer abondement, C2P points mobilised, or the AT/MP reconversion abondement. Mechanics
(domain.md §2.5): the holder pays max(flat amount, price − rights), never more than the price; the
rights debited are the price minus what the holder pays.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from cpa.errors import InvalidInput
from cpa.rules.params import PARAMETERS, ParamValue, int_value, value_at, value_or_none
from cpa.rules.trace import Fact, Trace

__all__ = ["Copayment", "CopaymentSituation", "copayment"]


class CopaymentSituation(msgspec.Struct, frozen=True, gc=False):
    """The facts that exempt a purchase from the participation forfaitaire."""

    job_seeker: bool = False
    employer_abondement: bool = False
    c2p_points: bool = False
    atmp_reconversion: bool = False


class Copayment(msgspec.Struct, frozen=True):
    price_cents: int
    flat_amount_cents: int  # the participation forfaitaire due (0 when exempt or before 2024-05-02)
    holder_pays_cents: int
    rights_debit_cents: int
    exemption: str | None
    trace: Trace


_FIRST_AMOUNT = value_at("cpf.pfo.amount", PARAMETERS.series["cpf.pfo.amount"].starts[0])
_EXEMPTIONS = (
    ("job_seeker", "cpf.pfo.exempt.job_seeker"),
    ("employer_abondement", "cpf.pfo.exempt.employer_abondement"),
    ("c2p_points", "cpf.pfo.exempt.c2p_points"),
    ("atmp_reconversion", "cpf.pfo.exempt.atmp_reconversion"),
)


def copayment(
    price_cents: int, available_rights_cents: int, situation: CopaymentSituation, on: dt.date
) -> Copayment:
    """Split a purchase of ``price_cents`` between the holder's card and the holder's rights."""
    if price_cents < 0 or available_rights_cents < 0:
        raise InvalidInput(
            "price and rights must not be negative",
            errors=[{"field": "price_cents", "message": "must be >= 0"}],
        )
    amount = value_or_none("cpf.pfo.amount", on)
    exemption, exemption_param = _exemption(situation, on)
    flat = 0 if amount is None or exemption else int_value(amount)
    holder_pays = min(price_cents, max(flat, price_cents - available_rights_cents))
    facts: dict[str, Fact] = {
        "price_cents": price_cents,
        "available_rights_cents": available_rights_cents,
        "on": on,
        "exemption": exemption,
    }
    # Before the first value, cite it anyway: it is the reason nothing is due.
    main = amount or _FIRST_AMOUNT
    params = (main,) if exemption_param is None else (main, exemption_param)
    note = "" if amount else f"not due before {_FIRST_AMOUNT.effective_from.isoformat()}"
    trace = Trace(main.id, params, facts, note)
    debit = price_cents - holder_pays
    return Copayment(price_cents, flat, holder_pays, debit, exemption, trace)


def _exemption(situation: CopaymentSituation, on: dt.date) -> tuple[str | None, ParamValue | None]:
    for field, param_id in _EXEMPTIONS:
        if getattr(situation, field):
            param = value_or_none(param_id, on)
            if param is not None and param.value is True:
                return field, param
    return None, None
