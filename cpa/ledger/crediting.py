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
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg
import msgspec
import structlog

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.declarations.models import (
    ActivityDeclaration,
    EngagementDeclaration,
    ExposureDeclaration,
)
from cpa.ledger.entries import append_entries, lock_person_ledger
from cpa.ledger.errors import YearNotClosed
from cpa.ledger.models import (
    SYSTEM,
    CreditLine,
    CreditResult,
    CreditRunReport,
    NewEntry,
    Provenance,
)
from cpa.persons import Person, get_person
from cpa.rules import Activity, Engagement, Exposure, PersonYearStatus
from cpa.rules.accounts import FIRST_CEC_YEAR, POT_UNITS
from cpa.rules.cpf import CONVERSION_DATE
from cpa.rules.yearly import (
    CreditAccount,
    HoursConversion,
    YearInputs,
    credit_pot,
    hours_conversions,
    year_credit,
)

log = structlog.get_logger(__name__)

_activity = msgspec.json.Decoder(ActivityDeclaration)
_exposure = msgspec.json.Decoder(ExposureDeclaration)
_engagement = msgspec.json.Decoder(EngagementDeclaration)


class _Source(msgspec.Struct, frozen=True):
    """Where one account's inputs for the year came from: their digest and declaration."""

    digest: bytes
    declaration_id: UUID | None


class _Record(msgspec.Struct, frozen=True):
    amount: int
    balance_before: int
    digest: bytes


Records = dict[tuple[int, str], _Record]


async def credit_year(
    db: Connection,
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
        await lock_person_ledger(db, person_id)
        person = await get_person(db, person_id)
        await _convert_hours(db, person_id, today, provenance)
        records = await _records(db, person_id)
        inputs, sources = await _inputs(db, person, year, records)
        balances = await _ceiling_balances(db, person_id, year, records)
        lines = []
        for account in inputs.accounts():
            credit = _Credit(inputs, account, sources[account], balances[account])
            lines.append(await _apply(db, person_id, credit, records, today, provenance))
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


class _Credit(msgspec.Struct, frozen=True):
    """One account to credit for the year: its inputs, their source and its balance now."""

    inputs: YearInputs
    account: CreditAccount
    source: _Source
    balance_now: int


async def _apply(
    db: Connection,
    person_id: UUID,
    plan: _Credit,
    records: Records,
    today: dt.date,
    provenance: Provenance,
) -> CreditLine:
    year, account = plan.inputs.year, plan.account
    unit = POT_UNITS[credit_pot(account, year)]
    record = records.get((year, account))
    if record is not None and record.digest == plan.source.digest:
        return CreditLine(account=account, unit=unit, amount=record.amount, delta=0,
                          kind="unchanged")  # fmt: skip
    # A correction is computed against the balance the first crediting saw: the difference
    # then comes from the declaration alone, not from what happened to the balance since.
    before = record.balance_before if record is not None else plan.balance_now
    credit = year_credit(plan.inputs, account, before)
    delta = credit.amount - (record.amount if record is not None else 0)
    kind: Literal["accrual", "adjustment"] = "accrual" if record is None else "adjustment"
    if delta:
        entry = NewEntry(person_id=person_id, pot=credit.pot, kind=kind, amount=delta,
                         effective_on=today, correlation_id=uuid4(), credit_year=year,
                         trace=credit.trace, declaration_id=plan.source.declaration_id)  # fmt: skip
        await append_entries(db, [entry], provenance)
    await db.execute(sql("upsert_ledger_credit"), person_id, year, account, unit, credit.amount,
                     before, plan.source.digest, today)  # fmt: skip
    return CreditLine(account=account, unit=unit, amount=credit.amount, delta=delta, kind=kind)


async def _records(db: Connection, person_id: UUID) -> Records:
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


# -- inputs: declarations → the rules' terms ----------------------------------------------


async def _ceiling_balances(
    db: Connection, person_id: UUID, year: int, records: Records
) -> dict[str, int]:
    """Per account, the balance its ceiling reads now: the euro pots' balances (pending holds
    included), or what earlier years credited to an hours or points account."""
    ceilings = await db.fetchrow(sql("get_ceiling_balances"), person_id)
    assert ceilings is not None, "an aggregate returns one row"
    euros = {"cpf_statutory": ceilings["statutory_cents"], "cec": ceilings["cec_cents"]}
    accounts: tuple[CreditAccount, ...] = ("cpf", "cec", "c2p")
    return {
        account: euros.get(credit_pot(account, year), _earlier(records, account, year))
        for account in accounts
    }


async def _inputs(
    db: Connection, person: Person, year: int, records: Records
) -> tuple[YearInputs, dict[str, _Source]]:
    """The person's declarations for ``year`` and, per account, where they came from."""
    sources: dict[str, _Source] = {}
    activities, status = await _activities(db, person, year, sources)
    engagements = await _engagements(db, person, year, records, sources)
    exposures = await _exposures(db, person, year, records, sources)
    inputs = YearInputs(year=year, birth_date=person.birth_date, status=status,
                        activities=activities, engagements=engagements,
                        exposures=exposures)  # fmt: skip
    return inputs, sources


async def _activities(
    db: Connection, person: Person, year: int, sources: dict[str, _Source]
) -> tuple[list[Activity] | None, PersonYearStatus]:
    row = await db.fetchrow(sql("get_activity_declaration"), person.id, year)
    if row is None:
        return None, PersonYearStatus(full_rate_retirement_on=person.full_rate_retirement_on)
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
    # The birth date gives the age the CPF stops at (L5421-4 1°): a corrected one recomputes.
    digest = _digest("cpf", year, activities, status, person.birth_date)
    sources["cpf"] = _Source(digest, row["id"])
    return activities, status


async def _engagements(
    db: Connection, person: Person, year: int, records: Records, sources: dict[str, _Source]
) -> list[Engagement] | None:
    if year < FIRST_CEC_YEAR:
        return None
    rows = await db.fetch(sql("list_validated_engagements"), person.id, year)
    if not rows and (year, "cec") not in records:
        return None
    engagements = [_engagement_of(_engagement.decode(row["body"])) for row in rows]
    digest = _digest("cec", year, sorted(msgspec.json.encode(e) for e in engagements))
    sources["cec"] = _Source(digest, rows[-1]["id"] if rows else None)
    return engagements


async def _exposures(
    db: Connection, person: Person, year: int, records: Records, sources: dict[str, _Source]
) -> list[Exposure] | None:
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
    latest = max(rows, key=lambda row: row["created_at"])["id"] if rows else None
    sources["c2p"] = _Source(_digest("c2p", year, person.birth_date, exposures), latest)
    return exposures


def _engagement_of(declared: EngagementDeclaration) -> Engagement:
    """The measures the rule reads, taken by name from the engagement as declared."""
    return msgspec.convert(declared, Engagement, from_attributes=True)


# -- hours → euros -------------------------------------------------------------------------


async def _convert_hours(
    db: Connection, person_id: UUID, today: dt.date, provenance: Provenance
) -> None:
    """Once the euro era has begun, convert whatever hours stock (or hours correction) is
    left (``hours_conversions``), as paired entries sharing a correlation id."""
    if today < CONVERSION_DATE:
        return
    balances = {
        row["pot"]: row["balance"] for row in await db.fetch(sql("list_balances"), person_id)
    }
    conversions = hours_conversions(balances.get("cpf_hours", 0), balances.get("cec_hours", 0))
    entries = [e for c in conversions for e in _conversion(person_id, c, today)]
    await append_entries(db, entries, provenance)


def _conversion(person_id: UUID, conversion: HoursConversion, today: dt.date) -> list[NewEntry]:
    common: dict[str, Any] = {
        "person_id": person_id,
        "kind": "conversion",
        "effective_on": today,
        "correlation_id": uuid4(),
        "trace": conversion.trace,
    }
    return [
        NewEntry(pot=conversion.source, amount=-conversion.hours, **common),
        NewEntry(pot=conversion.target, amount=conversion.amount_cents, **common),
    ]
