"""The money of each way a CPF training purchase ends (domain.md §5.3–5.4, decision OQ-7).

At the acceptance the holder's rights for the price (less what the holder pays by card: the
participation forfaitaire, CT L6323-7, and any remainder) are held. When the dossier ends, the
hold is split: ``posted_cents`` debited for good (to the body), ``released_cents`` returned to
the holder's rights — held = posted + released, always — and the card payment is refunded or
kept. Which case applies is picked from dates here (``classify_holder_cancel``), and what each
case costs is data: ``cancellation.toml``, a policy versioned by the date of the operator's CGU,
every row with its source. No handler compares dates or percentages itself.

Amount due for a case: nothing, the whole price, the abandonment grid on the completion rate
(under 25 % ⇒ 25 %, 25–80 % ⇒ pro rata, from 80 % ⇒ 100 %) or the completion rate pro rata;
rounded down to the cent (a holder is never debited a fraction of a cent the policy does not
make due). The card payment, when kept, pays it first, then the held rights.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

import msgspec

from cpa.errors import InvalidInput
from cpa.rules.params import (
    PARAMETERS,
    ParameterFileError,
    ParameterSet,
    ParamValue,
    date_value,
    int_value,
    names_value,
    value_at,
)
from cpa.rules.trace import Fact, Trace
from cpa.rules.trainings import within_withdrawal
from cpa.rules.workdays import working_days_between

__all__ = [
    "BASIS_POINTS_FULL",
    "CASES",
    "DUE_RULES",
    "CancellationCost",
    "Case",
    "DueRule",
    "Settlement",
    "cancellation_cost",
    "check_policy",
    "classify_holder_cancel",
    "classify_holder_exit",
    "policy_version_on",
    "settle",
]

Case = Literal[
    "withdrawal",
    "holder_cancel_early",
    "holder_cancel_late",
    "no_show",
    "force_majeure",
    "body_cancel",
    "body_refuse",
    "financer_cancel",
    "no_answer",
    "not_accepted_in_time",
    "holder_abandon",
    "body_interrupt",
    "completed",
    # refusedByAttendee: the holder declines the proposal (nothing is held yet)
    "holder_refuse",
]
CASES: tuple[Case, ...] = get_args(Case)
DueRule = Literal["nothing", "price", "abandon_grid", "completion"]
DUE_RULES: tuple[DueRule, ...] = get_args(DueRule)
BASIS_POINTS_FULL = 10_000  # 100 %: completion rates are basis points, 0..10 000


class Settlement(msgspec.Struct, frozen=True):
    """How a dossier's hold is split when it ends, and why."""

    case: Case
    due_cents: int  # what the policy makes due for the training (card payment included)
    posted_cents: int  # held rights debited for good (to the body)
    released_cents: int  # held rights returned to the holder
    copayment_refunded: bool  # the card payment (participation forfaitaire, remainder) refunded
    policy_version: str  # the date of the CGU version whose rows decided (ISO)
    rule_id: str
    legal_reference: str
    trace: Trace


class CancellationCost(msgspec.Struct, frozen=True):
    """What cancelling now would cost the holder (the preview of the citizen's portal)."""

    case: Case
    rights_lost_cents: int  # held rights that would not come back
    card_payment_lost_cents: int  # card payment that would not be refunded
    total_cents: int
    settlement: Settlement


def policy_version_on(on: dt.date) -> str:
    """The date of the CGU version in force on ``on`` (ISO), which names the policy applied."""
    return date_value(value_at("training.cgu.version", on)).isoformat()


def classify_holder_cancel(*, today: dt.date, start: dt.date, accepted_on: dt.date) -> Case:
    """The case of a holder cancelling an accepted dossier on ``today``, before entering it.

    Within the withdrawal period (and before the start): withdrawal. Otherwise more than the
    late-notice period (7 working days) before the start: early; with 7 or fewer left, on the
    start day or later: late. The periods are those of the CGU accepted (``accepted_on``).
    """
    if within_withdrawal(today=today, accepted_on=accepted_on, start=start):
        return "withdrawal"
    notice = int_value(value_at("training.cancel.late_notice", accepted_on))
    early = working_days_between(today, start) > notice
    return "holder_cancel_early" if early else "holder_cancel_late"


def classify_holder_exit(*, force_majeure: bool) -> Case:
    """The case of a holder leaving a training after entering it."""
    return "force_majeure" if force_majeure else "holder_abandon"


def settle(
    case: Case,
    *,
    price_cents: int,
    held_cents: int,
    completion_basis_points: int,
    on: dt.date,
) -> Settlement:
    """Split the hold of a dossier ending by ``case``, by the policy in force on ``on``.

    ``on`` is the day the holder accepted the CGU (the acceptance; the request for a dossier
    never accepted). ``held_cents`` is the rights held, at most the price: the rest of the price
    was paid outside the hold (by card).
    """
    _check_amounts(price_cents, held_cents, completion_basis_points)
    due_param = value_at(f"training.cancel.{case}.due", on)
    refund_param = value_at(f"training.cancel.{case}.copayment_refunded", on)
    rule = _due_rule(due_param)
    due, rate, grid = _due(rule, price_cents, completion_basis_points, on)
    refunded = refund_param.value is True
    outside_first = value_at("training.settle.paid_outside_hold_first", on)
    kept_outside = 0 if refunded else price_cents - held_cents
    posted = _posted(due, held_cents, kept_outside, outside_first.value is True)
    version = value_at("training.cgu.version", on)
    facts: dict[str, Fact] = {
        "case": case,
        "price_cents": price_cents,
        "held_cents": held_cents,
        "completion_basis_points": completion_basis_points,
        "due_basis_points": rate,
        "on": on,
    }
    params = (due_param, refund_param, version, outside_first, *grid)
    trace = Trace(f"training.cancel.{case}", params, facts, f"due: {rule}")
    settlement = Settlement(
        case,
        due,
        posted,
        held_cents - posted,
        refunded,
        date_value(version).isoformat(),
        trace.rule_id,
        trace.legal_reference,
        trace,
    )
    _assert_split(settlement, held_cents)
    return settlement


def cancellation_cost(
    *,
    today: dt.date,
    start: dt.date,
    accepted_on: dt.date,
    price_cents: int,
    held_cents: int,
    entered: bool = False,
    completion_basis_points: int = 0,
) -> CancellationCost:
    """What the holder would lose by cancelling an accepted dossier on ``today``.

    Before entering the training, the case comes from the dates (withdrawal, early or late);
    once entered (``entered``), leaving is an abandonment at ``completion_basis_points``.
    """
    case = (
        classify_holder_exit(force_majeure=False)
        if entered
        else classify_holder_cancel(today=today, start=start, accepted_on=accepted_on)
    )
    settlement = settle(
        case,
        price_cents=price_cents,
        held_cents=held_cents,
        completion_basis_points=completion_basis_points,
        on=accepted_on,
    )
    card_lost = 0 if settlement.copayment_refunded else price_cents - held_cents
    total = settlement.posted_cents + card_lost
    return CancellationCost(case, settlement.posted_cents, card_lost, total, settlement)


def _due(
    rule: DueRule, price_cents: int, completion: int, on: dt.date
) -> tuple[int, int, tuple[ParamValue, ...]]:
    """(amount due, its rate in basis points, the grid parameters used)."""
    if rule == "nothing":
        return 0, 0, ()
    if rule == "price":
        return price_cents, BASIS_POINTS_FULL, ()
    if rule == "completion":
        return _share(price_cents, completion), completion, ()
    minimum = value_at("training.abandon.minimum_due", on)
    full_from = value_at("training.abandon.full_due_from", on)
    if completion >= int_value(full_from):
        rate = BASIS_POINTS_FULL
    else:
        rate = max(completion, int_value(minimum))
    return _share(price_cents, rate), rate, (minimum, full_from)


def _posted(due: int, held_cents: int, kept_outside: int, outside_first: bool) -> int:
    """The held rights debited: what is due, less the kept card payment when it pays first."""
    from_hold = max(0, due - kept_outside) if outside_first else due
    return min(held_cents, from_hold)


def _share(price_cents: int, basis_points: int) -> int:
    return price_cents * basis_points // BASIS_POINTS_FULL


def _check_amounts(price_cents: int, held_cents: int, completion: int) -> None:
    errors = []
    if price_cents < 0:
        errors.append({"field": "price_cents", "message": "must be >= 0"})
    if not 0 <= held_cents <= max(price_cents, 0):
        errors.append({"field": "held_cents", "message": "must be within 0..price_cents"})
    if not 0 <= completion <= BASIS_POINTS_FULL:
        message = f"must be within 0..{BASIS_POINTS_FULL}"
        errors.append({"field": "completion_basis_points", "message": message})
    if errors:
        raise InvalidInput("amounts out of range", errors=errors)


def _assert_split(settlement: Settlement, held_cents: int) -> None:
    # A broken invariant is a bug in this module, not an operating error.
    assert settlement.posted_cents >= 0 and settlement.released_cents >= 0, settlement
    assert settlement.posted_cents + settlement.released_cents == held_cents, settlement


def _due_rule(param: ParamValue) -> DueRule:
    (name,) = names_value(param)
    assert name in DUE_RULES, param  # checked at import by check_policy
    return name


def check_policy(params: ParameterSet) -> None:
    """Every case has a known due rule and a refund flag on every day of the policy's life, and
    a case that makes an amount due keeps the card payment (it pays that amount first).

    Run at import on the packaged files: a broken policy stops the service from starting.
    """
    for case in CASES:
        due_series = params.series.get(f"training.cancel.{case}.due")
        refund_series = params.series.get(f"training.cancel.{case}.copayment_refunded")
        if due_series is None or refund_series is None:
            raise ParameterFileError(f"cancellation.toml: case {case} is missing")
        for day in sorted({*due_series.starts, *refund_series.starts}):
            due, refund = due_series.at(day), refund_series.at(day)
            if due is None or refund is None:
                raise ParameterFileError(f"cancellation.toml: case {case} not in force on {day}")
            names = names_value(due)
            if len(names) != 1 or names[0] not in DUE_RULES:
                raise ParameterFileError(f"cancellation.toml: {due.id} names {names}")
            if names[0] != "nothing" and refund.value is True:
                raise ParameterFileError(f"cancellation.toml: {case} refunds a card payment due")


check_policy(PARAMETERS)
