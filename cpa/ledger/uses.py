"""Grants (abondements, dotations) and C2P uses.

Grants sit outside the ceilings (CT L6323-4); each is its own sub-pot so an earmark and a
deadline stay attached to its euros. C2P uses apply ``cpa.rules.c2p_conversion`` on the day
of the request (values by date, reserved points): a training use credits an abondement
earmarked to that training (CT L4163-8, R4163-11); part-time and retirement uses record the
days or quarters granted; a reconversion use records the euros for the Transitions Pro project.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID, uuid4

import msgspec
import structlog

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.errors import InvalidInput
from cpa.ledger.entries import append_entries, person_ledger_locked
from cpa.ledger.errors import ConversionNotFound, InvalidAmount
from cpa.ledger.models import (
    SYSTEM,
    C2pConversionRecord,
    C2pConversionRequest,
    C2pConversionResult,
    Grant,
    NewEntry,
    NewGrant,
    Provenance,
)
from cpa.persons import PersonNotFound
from cpa.rules import Trace, c2p_conversion, c2p_points_reserved_remaining

log = structlog.get_logger(__name__)
_points_used = msgspec.json.Decoder(dict[str, int])

GRANT_AMOUNT_MAX_CENTS = 10_000_000  # 100,000 € in one grant
C2P_FINANCER = "c2p"


async def add_grant(
    db: Connection,
    person_id: UUID,
    new: NewGrant,
    *,
    today: dt.date,
    provenance: Provenance = SYSTEM,
) -> Grant:
    """Credit an abondement or a dotation to the person's CPF, in a sub-pot of its own."""
    _check_grant(new, today)
    async with person_ledger_locked(db, person_id):
        grant = await _insert_grant(db, person_id, new)
        entry = NewEntry(person_id=person_id, pot=new.pot, grant_id=grant.id, kind=new.pot,
                         amount=new.amount_cents, effective_on=today,
                         correlation_id=uuid4())  # fmt: skip
        await append_entries(db, [entry], provenance)
    log.info("grant_added", pot=new.pot, amount_cents=new.amount_cents)
    return grant


async def convert_c2p(
    db: Connection,
    person_id: UUID,
    request: C2pConversionRequest,
    *,
    today: dt.date,
    provenance: Provenance = SYSTEM,
) -> C2pConversionResult:
    """Use C2P points for training, reconversion, part time or retirement (CT L4163-7 ff.)."""
    if request.use == "training" and not (request.training_reference or "").strip():
        raise InvalidInput(
            "a training use names its training",
            errors=[{"field": "$.training_reference", "message": "required for training"}],
        )
    async with person_ledger_locked(db, person_id):
        state = await db.fetchrow(sql("get_c2p_state"), person_id)
        if state is None:
            raise PersonNotFound()
        points = state["points"]
        used = _points_used.decode(state["points_used"])
        reserved = c2p_points_reserved_remaining(state["birth_date"], today, points, used)
        conversion = c2p_conversion(
            request.use, request.points, today, state["birth_date"], max(points, 0), reserved,
            request.reduction_basis_points,
        )  # fmt: skip
        grant_id = await _fund_training(db, person_id, request, conversion.amount_cents)
        result = C2pConversionResult(
            id=uuid4(),
            use=request.use,
            points=request.points,
            reserved_points_used=conversion.reserved_points_used,
            converted_on=today,
            amount_cents=conversion.amount_cents,
            grant_id=grant_id,
            part_time_days=conversion.part_time_days,
            part_time_months_at_half_time=conversion.part_time_months_at_half_time,
            retirement_quarters=conversion.retirement_quarters,
            legal_reference=conversion.trace.legal_reference,
        )
        await _record_conversion(db, person_id, request, result, conversion.trace, provenance)
    log.info("c2p_converted", use=request.use, points=request.points)
    return result


async def _fund_training(
    db: Connection, person_id: UUID, request: C2pConversionRequest, amount_cents: int | None
) -> UUID | None:
    """A training use opens an abondement earmarked to the training; nothing otherwise."""
    if request.use != "training" or not amount_cents:
        return None
    new = NewGrant(
        pot="abondement",
        amount_cents=amount_cents,
        financer=C2P_FINANCER,
        earmarked=True,
        training_reference=request.training_reference,
    )
    grant = await _insert_grant(db, person_id, new)
    return grant.id


async def _record_conversion(
    db: Connection,
    person_id: UUID,
    request: C2pConversionRequest,
    result: C2pConversionResult,
    trace: Trace,
    provenance: Provenance,
) -> None:
    correlation = uuid4()
    entries = [
        NewEntry(person_id=person_id, pot="c2p", kind="c2p_use", amount=-request.points,
                 effective_on=result.converted_on, correlation_id=correlation, trace=trace),
    ]  # fmt: skip
    if result.grant_id is not None and result.amount_cents:
        entries.append(
            NewEntry(person_id=person_id, pot="abondement", grant_id=result.grant_id,
                     kind="abondement", amount=result.amount_cents,
                     effective_on=result.converted_on, correlation_id=correlation, trace=trace)
        )  # fmt: skip
    with domain_errors():
        await db.execute(
            sql("insert_c2p_conversion"),
            result.id,
            person_id,
            request.use,
            request.points,
            result.reserved_points_used,
            result.amount_cents,
            result.part_time_days,
            result.retirement_quarters,
            request.training_reference,
            result.grant_id,
            result.converted_on,
        )
    await append_entries(db, entries, provenance)


def _check_grant(new: NewGrant, today: dt.date) -> None:
    if not 0 < new.amount_cents <= GRANT_AMOUNT_MAX_CENTS:
        message = f"must be 1..{GRANT_AMOUNT_MAX_CENTS}"
        raise InvalidAmount(errors=[{"field": "$.amount_cents", "message": message}])
    if not new.financer.strip():
        raise InvalidInput("the financer is required")
    if new.use_by is not None and new.use_by < today:
        raise InvalidInput("use_by is in the past")


async def _insert_grant(db: Connection, person_id: UUID, new: NewGrant) -> Grant:
    earmarked = new.earmarked or new.training_reference is not None
    with domain_errors():
        row = await db.fetchrow(
            sql("insert_grant"),
            person_id,
            new.pot,
            new.financer,
            earmarked,
            new.training_reference,
            new.use_by,
        )
    assert row is not None, "an insert returns its row"
    return from_row(Grant, row)


async def get_c2p_conversion(
    db: Connection, person_id: UUID, conversion_id: UUID
) -> C2pConversionRecord:
    row = await db.fetchrow(sql("get_c2p_conversion"), conversion_id, person_id)
    if row is None:
        raise ConversionNotFound()
    return from_row(C2pConversionRecord, row)
