"""The dossier's money, through the ledger only: acceptance reserves the price minus the
co-payment (a hold, ``cpa.ledger``), and the end of the dossier posts and/or releases it as
the cancellation policy says (``cpa.rules.cancellation``). Every amount is recorded with the
rule and the policy version that produced it: the dossier's explanation."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import msgspec

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.ledger import (
    InsufficientRights,
    NewHold,
    Provenance,
    create_hold,
    get_account,
    post_hold,
    void_hold,
)
from cpa.rules.cancellation import Case, cancellation_cost, classify_holder_cancel, settle
from cpa.rules.copayment import CopaymentSituation, copayment
from cpa.rules.debit import debit_order
from cpa.trainings.machine import Transition
from cpa.trainings.models import Dossier, Leg, Quote

__all__ = [
    "quote",
]

HOLD_LIFETIME = dt.timedelta(days=366)
"""A dossier's hold lives the ledger's longest (``HOLD_LIFETIME_MAX``): the dossier settles it
long before, unless a session starts more than a year after acceptance (then the sweep
releases it and the settlement finds nothing to post)."""

Recorded = tuple[Leg, int, str, str, str]
"""An amount to record: leg, cents, rule id, policy version, legal reference."""


async def reserve(
    db: Connection, dossier: Dossier, by: Provenance, now: dt.datetime
) -> tuple[Dossier, list[Recorded]]:
    """Hold the rights the citizen uses (price minus co-payment, §2.5, in the debit order of
    §2.4); the co-payment is its own leg, paid by card (not on the ledger).

    The split is first computed as if the rights covered the price (the co-payment is then
    the flat amount, whatever the rights beyond it): when they do not, the hold is refused
    with what is available, and the split is computed again on that. One statement in the
    common case instead of reading the account first.
    """
    on = now.date()
    situation = CopaymentSituation(job_seeker=dossier.job_seeker)
    split = copayment(dossier.price_cents, dossier.price_cents, situation, on)
    try:
        hold_id = await _hold(db, dossier, split.rights_debit_cents, by, now)
    except InsufficientRights as refused:
        available = int(refused.extensions["available_cents"])
        split = copayment(dossier.price_cents, available, situation, on)
        hold_id = await _hold(db, dossier, split.rights_debit_cents, by, now)
    order = debit_order(on).trace
    recorded: list[Recorded] = [
        ("rights_held", split.rights_debit_cents, order.rule_id,
         order.parameter_effective_from.isoformat(), order.legal_reference),
        ("copayment", split.holder_pays_cents, split.trace.rule_id,
         split.trace.parameter_effective_from.isoformat(), split.trace.legal_reference),
    ]  # fmt: skip
    changed = msgspec.structs.replace(
        dossier,
        hold_id=hold_id,
        held_cents=split.rights_debit_cents,
        copayment_cents=split.holder_pays_cents,
        accepted_on=on,
    )
    return changed, recorded


async def _hold(
    db: Connection, dossier: Dossier, cents: int, by: Provenance, now: dt.datetime
) -> UUID | None:
    """A hold of ``cents`` for the dossier (none for nothing), named after it."""
    if cents <= 0:
        return None
    new = NewHold(
        amount_cents=cents, training_reference=f"dossier:{dossier.id}",
        expires_at=now + HOLD_LIFETIME,
    )  # fmt: skip
    hold = await create_hold(db, dossier.person_id, new, now=now, provenance=by)
    return hold.id


def case_of(step: Transition, dossier: Dossier, today: dt.date) -> Case:
    """The policy's case for this settling step: the citizen's cancellation by its dates, the
    exit by the reason the body declared, the others named by the table."""
    assert step.settlement is not None, "a settling step names its settlement"
    if step.settlement == "classify":
        assert dossier.accepted_on is not None, "an accepted dossier has its acceptance date"
        return classify_holder_cancel(
            today=today, start=dossier.starts_on, accepted_on=dossier.accepted_on
        )
    if step.settlement == "exit":
        assert dossier.exit_case is not None, "a declared exit has its reason"
        return dossier.exit_case
    return step.settlement


async def settle_hold(
    db: Connection, dossier: Dossier, case: Case, by: Provenance, now: dt.datetime
) -> list[Recorded]:
    """Post what the policy keeps, release the rest (``post_hold`` releases what it does not
    post); held = posted + released, to the cent."""
    assert dossier.accepted_on is not None, "only an accepted dossier holds rights"
    done = settle(
        case,
        price_cents=dossier.price_cents,
        held_cents=dossier.held_cents,
        completion_basis_points=dossier.completion_basis_points or 0,
        on=dossier.accepted_on,  # the CGU version the citizen accepted
    )
    assert done.posted_cents + done.released_cents == dossier.held_cents, "held = posted + freed"
    if dossier.hold_id is not None:
        if done.posted_cents > 0:
            await post_hold(db, dossier.person_id, dossier.hold_id, done.posted_cents, now=now,
                            provenance=by)  # fmt: skip
        else:
            await void_hold(db, dossier.person_id, dossier.hold_id, now=now, provenance=by)
    why = (done.rule_id, done.policy_version, done.legal_reference)
    recorded: list[Recorded] = []
    if done.posted_cents:
        recorded.append(("rights_debited", done.posted_cents, *why))
    if done.released_cents:
        recorded.append(("rights_released", done.released_cents, *why))
    if done.copayment_refunded and dossier.copayment_cents:
        recorded.append(("copayment_refunded", dossier.copayment_cents, *why))
    return recorded


async def record_amounts(
    db: Connection, dossier: Dossier, recorded: list[Recorded], now: dt.datetime
) -> list[dict[str, Any]]:
    """Write the amounts; their event payloads (what the dossier's events say of money)."""
    payloads = []
    for leg, cents, rule_id, version, reference in recorded:
        hold_id = dossier.hold_id if leg.startswith("rights_") else None
        await db.execute(
            sql("insert_dossier_amount"), dossier.id, leg, cents, rule_id, version, reference,
            hold_id, now,
        )  # fmt: skip
        payloads.append(
            {"leg": leg, "amount_cents": cents, "rule_id": rule_id, "policy_version": version}
        )
    return payloads


async def quote(db: Connection, dossier: Dossier, now: dt.datetime) -> Quote:
    """What accepting costs the citizen (before acceptance), or what is held, and what a
    cancellation today would cost (the policy applied to the dossier's dates)."""
    on = now.date()
    if dossier.accepted_on is None:
        account = await get_account(db, dossier.person_id, ("cpf:read",), now=now)
        assert account.cpf is not None, "asked with cpf:read"
        situation = CopaymentSituation(job_seeker=dossier.job_seeker)
        split = copayment(dossier.price_cents, account.cpf.available_cents, situation, on)
        return Quote(
            rights_used_cents=split.rights_debit_cents, copayment_cents=split.holder_pays_cents,
            copayment_rule_id=split.trace.rule_id, cancellation_case=None,
            cancellation_cost_cents=0, policy_version=None,
        )  # fmt: skip
    if dossier.state != "accepted":  # the citizen can no longer cancel: nothing to quote
        return Quote(
            rights_used_cents=dossier.held_cents, copayment_cents=dossier.copayment_cents,
            copayment_rule_id="cpf.pfo.amount", cancellation_case=None,
            cancellation_cost_cents=0, policy_version=None,
        )  # fmt: skip
    cost = cancellation_cost(
        today=on, start=dossier.starts_on, accepted_on=dossier.accepted_on,
        price_cents=dossier.price_cents, held_cents=dossier.held_cents,
    )  # fmt: skip
    return Quote(
        rights_used_cents=dossier.held_cents, copayment_cents=dossier.copayment_cents,
        copayment_rule_id="cpf.pfo.amount", cancellation_case=cost.case,
        cancellation_cost_cents=cost.total_cents,
        cancellation_rights_lost_cents=cost.rights_lost_cents,
        policy_version=cost.settlement.policy_version,
    )  # fmt: skip
