"""Crediting: a year's declarations → the rules → accrual entries (CT L6323-11 ff., L5151-9,
R4163-9); hours stocks converted to euros (décrets 2018-1153 and 2018-1349).

Idempotent by construction: ``ledger_credits`` keeps, per person, year and account, what was
credited and a digest of the inputs used. The same inputs change nothing; changed inputs (a
corrected declaration) are recomputed against the balance of the first crediting and the
difference is posted as an adjustment, never by rewriting entries (OQ-5). A negative
adjustment may leave a balance below zero: that debt is repaid first by later credits, since
they add to the same balance. Each person is credited in one transaction, so a crash leaves
every person either fully credited or untouched, and a re-run finishes the job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg
import msgspec
import structlog

from cpa.accounts import Person, get_person
from cpa.db.queries import sql
from cpa.declarations.models import (
    ActivityDeclaration,
    EngagementDeclaration,
    ExposureDeclaration,
)
from cpa.ledger import journal
from cpa.ledger.errors import YearNotClosed
from cpa.ledger.models import (
    SYSTEM,
    CreditAccount,
    CreditLine,
    CreditResult,
    CreditRunReport,
    NewEntry,
    Pot,
    Provenance,
    Unit,
)
from cpa.rules import (
    Activity,
    Engagement,
    Exposure,
    PersonYearStatus,
    Trace,
    c2p_year_points,
    cec_convert_hours_to_cents,
    cec_hours_year_accrual,
    cec_year_accrual,
    convert_hours_to_cents,
    cpf_hours_year_accrual,
    cpf_year_accrual,
)
from cpa.rules.accounts import FIRST_CEC_YEAR
from cpa.rules.cpf import CONVERSION_DATE, FIRST_EURO_YEAR

log = structlog.get_logger(__name__)

_activity = msgspec.json.Decoder(ActivityDeclaration)
_exposure = msgspec.json.Decoder(ExposureDeclaration)
_engagement = msgspec.json.Decoder(EngagementDeclaration)


class _Credit(msgspec.Struct, frozen=True, kw_only=True):
    """One account's inputs for a year, and how to compute its credit from a balance."""

    account: CreditAccount
    pot: Pot
    unit: Unit
    digest: bytes
    balance_now: int
    declaration_id: UUID | None
    compute: Callable[[int], tuple[int, Trace]]


class _Record(msgspec.Struct, frozen=True):
    amount: int
    balance_before: int
    digest: bytes


Records = dict[tuple[int, str], _Record]


async def credit_year(
    db: asyncpg.Connection,
    person_id: UUID,
    year: int,
    *,
    today: dt.date,
    provenance: Provenance = SYSTEM,
) -> CreditResult:
    """Credit ``year`` (CPF, CEC, C2P) from the person's current declarations; re-runnable."""
    if year >= today.year:
        raise YearNotClosed(f"rights for {year} are credited from {year + 1}")
    async with db.transaction():
        await journal.lock_account(db, person_id)
        person = await get_person(db, person_id)
        await _convert_hours(db, person_id, today, provenance)
        records = await _records(db, person_id)
        lines = []
        for plan in await _plans(db, person, year, records):
            lines.append(await _apply(db, person_id, year, plan, records, today, provenance))
        await _convert_hours(db, person_id, today, provenance)
    result = CreditResult(person_id=person_id, year=year, lines=lines)
    if result.changed:
        log.debug("year_credited", year=year, lines=len(lines))
    return result


async def credit_all(dsn: str, year: int, *, today: dt.date) -> CreditRunReport:
    """Credit everyone with a declaration for ``year``, one transaction per person.

    Persons are walked in a stable order; a re-run (after a crash, or just twice) skips what
    is already credited, so it ends with the same ledger as one uninterrupted run.
    """
    connection = await asyncpg.connect(dsn)
    try:
        persons = [row[0] for row in await connection.fetch(sql("list_persons_to_credit"), year)]
        changed = 0
        for person_id in persons:
            result = await credit_year(connection, person_id, year, today=today)
            changed += result.changed
    finally:
        await connection.close()
    log.info("campaign_credited", year=year, persons=len(persons), changed=changed)
    return CreditRunReport(
        year=year, persons=len(persons), changed=changed, unchanged=len(persons) - changed
    )


# -- applying ------------------------------------------------------------------------------


async def _apply(
    db: asyncpg.Connection,
    person_id: UUID,
    year: int,
    plan: _Credit,
    records: Records,
    today: dt.date,
    provenance: Provenance,
) -> CreditLine:
    record = records.get((year, plan.account))
    if record is not None and record.digest == plan.digest:
        return CreditLine(
            account=plan.account, unit=plan.unit, amount=record.amount, delta=0, kind="unchanged"
        )
    # A correction is computed against the balance the first crediting saw: the difference
    # then comes from the declaration alone, not from what happened to the balance since.
    before = record.balance_before if record is not None else plan.balance_now
    amount, trace = plan.compute(before)
    delta = amount - (record.amount if record is not None else 0)
    kind: Literal["accrual", "adjustment"] = "accrual" if record is None else "adjustment"
    if delta:
        entry = NewEntry(
            person_id=person_id,
            pot=plan.pot,
            kind=kind,
            amount=delta,
            effective_on=today,
            correlation_id=uuid4(),
            credit_year=year,
            trace=trace,
            declaration_id=plan.declaration_id,
        )
        await journal.append(db, [entry], provenance)
    await db.execute(
        sql("upsert_ledger_credit"),
        person_id,
        year,
        plan.account,
        plan.unit,
        amount,
        before,
        plan.digest,
        today,
    )
    return CreditLine(account=plan.account, unit=plan.unit, amount=amount, delta=delta, kind=kind)


async def _records(db: asyncpg.Connection, person_id: UUID) -> Records:
    rows = await db.fetch(sql("list_ledger_credits"), person_id)
    return {
        (row["year"], row["account"]): _Record(
            row["amount"], row["balance_before"], bytes(row["inputs_sha256"])
        )
        for row in rows
    }


def _earlier(records: Records, account: str, year: int) -> int:
    """What earlier years credited to ``account`` (hours or points acquired before)."""
    return sum(r.amount for (y, a), r in records.items() if a == account and y < year)


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(msgspec.json.encode(parts)).digest()


# -- planning: inputs → rules --------------------------------------------------------------


async def _plans(
    db: asyncpg.Connection, person: Person, year: int, records: Records
) -> list[_Credit]:
    ceilings = await db.fetchrow(sql("get_ceiling_balances"), person.id)
    assert ceilings is not None, "an aggregate returns one row"
    plans = [
        await _cpf_plan(db, person, year, records, ceilings["statutory_cents"]),
        await _cec_plan(db, person, year, records, ceilings["cec_cents"]),
        await _c2p_plan(db, person, year, records),
    ]
    return [plan for plan in plans if plan is not None]


async def _cpf_plan(
    db: asyncpg.Connection, person: Person, year: int, records: Records, statutory_cents: int
) -> _Credit | None:
    row = await db.fetchrow(sql("get_activity_declaration"), person.id, year)
    if row is None:
        return None
    declaration = _activity.decode(row["body"])
    activities = [
        Activity(
            kind=a.kind,
            worked_centihours=a.worked_centihours,
            reference_centihours=a.reference_centihours,
            months_active=a.months_active,
        )
        for a in declaration.activities
    ]
    status = PersonYearStatus(
        low_qualified=declaration.low_qualified,
        disability=declaration.disability,
        full_rate_retirement_on=person.full_rate_retirement_on,
    )
    digest = _digest("cpf", year, activities, status)
    if year < FIRST_EURO_YEAR:

        def hours(balance: int) -> tuple[int, Trace]:
            accrual = cpf_hours_year_accrual(year, activities, status, balance)
            return accrual.amount_hours, accrual.trace

        before = _earlier(records, "cpf", year)
        return _Credit(
            account="cpf", pot="cpf_hours", unit="hours", digest=digest, balance_now=before,
            declaration_id=row["id"], compute=hours,
        )  # fmt: skip

    def euros(balance: int) -> tuple[int, Trace]:
        accrual = cpf_year_accrual(year, activities, status, balance)
        return accrual.amount_cents, accrual.trace

    return _Credit(
        account="cpf", pot="cpf_statutory", unit="cents", digest=digest,
        balance_now=statutory_cents, declaration_id=row["id"], compute=euros,
    )  # fmt: skip


async def _cec_plan(
    db: asyncpg.Connection, person: Person, year: int, records: Records, cec_cents: int
) -> _Credit | None:
    if year < FIRST_CEC_YEAR:
        return None
    rows = await db.fetch(sql("list_validated_engagements"), person.id, year)
    if not rows and (year, "cec") not in records:
        return None
    engagements = [_engagement_of(_engagement.decode(row["body"])) for row in rows]
    digest = _digest("cec", year, sorted(msgspec.json.encode(e) for e in engagements))
    declaration_id = rows[-1]["id"] if rows else None
    if year < FIRST_EURO_YEAR:

        def hours(balance: int) -> tuple[int, Trace]:
            accrual = cec_hours_year_accrual(year, engagements, balance)
            return accrual.amount_hours, accrual.trace

        return _Credit(
            account="cec", pot="cec_hours", unit="hours", digest=digest,
            balance_now=_earlier(records, "cec", year), declaration_id=declaration_id,
            compute=hours,
        )  # fmt: skip

    def euros(balance: int) -> tuple[int, Trace]:
        accrual = cec_year_accrual(year, engagements, balance)
        return accrual.amount_cents, accrual.trace

    return _Credit(
        account="cec", pot="cec", unit="cents", digest=digest, balance_now=cec_cents,
        declaration_id=declaration_id, compute=euros,
    )  # fmt: skip


async def _c2p_plan(
    db: asyncpg.Connection, person: Person, year: int, records: Records
) -> _Credit | None:
    rows = await db.fetch(sql("list_current_exposures"), person.id, year)
    if not rows and (year, "c2p") not in records:
        return None
    declared = [_exposure.decode(row["body"]) for row in rows]
    exposures = [
        Exposure(
            contract_start=d.contract_start,
            contract_end=d.contract_end,
            factors={str(k): v for k, v in d.factors.items()},
        )
        for d in declared
    ]
    digest = _digest("c2p", year, person.birth_date, exposures)
    latest = max(rows, key=lambda row: row["created_at"])["id"] if rows else None

    def points(acquired_before: int) -> tuple[int, Trace]:
        result = c2p_year_points(year, exposures, person.birth_date, acquired_before)
        return result.points, result.trace

    return _Credit(
        account="c2p", pot="c2p", unit="points", digest=digest,
        balance_now=_earlier(records, "c2p", year), declaration_id=latest, compute=points,
    )  # fmt: skip


def _engagement_of(declared: EngagementDeclaration) -> Engagement:
    return Engagement(
        kind=declared.kind,
        hours=declared.hours,
        hours_in_one_organisation=declared.hours_in_one_organisation,
        days=declared.days,
        months=declared.months,
        years=declared.years,
        interventions=declared.interventions,
        role=declared.role,
    )


# -- hours → euros -------------------------------------------------------------------------


async def _convert_hours(
    db: asyncpg.Connection, person_id: UUID, today: dt.date, provenance: Provenance
) -> None:
    """Once the euro era has begun, convert whatever hours stock (or hours correction) is
    left: CPF at 15 €/h, CEC at 12 €/h, as paired entries sharing a correlation id."""
    if today < CONVERSION_DATE:
        return
    balances = {
        row["pot"]: row["balance"] for row in await db.fetch(sql("list_balances"), person_id)
    }
    entries: list[NewEntry] = []
    cpf_hours, cec_hours = balances.get("cpf_hours", 0), balances.get("cec_hours", 0)
    if cpf_hours:
        conversion = convert_hours_to_cents(cpf_hours)
        entries += _conversion(person_id, "cpf_hours", "cpf_statutory", cpf_hours,
                               conversion.amount_cents, conversion.trace, today)  # fmt: skip
    if cec_hours:
        cec = cec_convert_hours_to_cents(cec_hours)
        entries += _conversion(person_id, "cec_hours", "cec", cec_hours, cec.amount_cents,
                               cec.trace, today)  # fmt: skip
    await journal.append(db, entries, provenance)


def _conversion(
    person_id: UUID,
    source: Pot,
    target: Pot,
    hours: int,
    cents: int,
    trace: Trace,
    today: dt.date,
) -> list[NewEntry]:
    correlation = uuid4()
    common: dict[str, Any] = {
        "person_id": person_id,
        "kind": "conversion",
        "effective_on": today,
        "correlation_id": correlation,
        "trace": trace,
    }
    return [
        NewEntry(pot=source, amount=-hours, **common),
        NewEntry(pot=target, amount=cents, **common),
    ]
