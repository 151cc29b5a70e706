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
from collections.abc import Iterable, Sequence
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
from cpa.ledger.entries import append_entries, person_ledger_locked
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
from cpa.rules.accounts import FIRST_CEC_YEAR, FIRST_YEAR, POT_UNITS
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
Row = Any
"""A row as the named queries return it (an asyncpg record), read by column name."""


class CreditState(msgspec.Struct, kw_only=True):
    """What crediting a year reads of one person, loaded beforehand under the person's ledger
    lock: one person at a time by ``credit_year``, a chunk of persons at once (set queries) by
    the campaign. ``balances``: the ledger's balances of the accounts' own pots (no grants);
    ``held``: the pending holds' euros per pot; the declarations as their rows."""

    person_id: UUID
    birth_date: dt.date
    full_rate_retirement_on: dt.date | None
    records: Records
    balances: dict[str, int]
    held: dict[str, int]
    activity: Row | None
    engagements: Sequence[Row]
    exposures: Sequence[Row]


class CreditNote(msgspec.Struct, frozen=True, kw_only=True):
    """One account's credit decided for the year, for whoever reports on a campaign."""

    line: CreditLine
    pot: str
    gross: int
    capped: bool
    inputs: YearInputs


class CreditPlan(msgspec.Struct, kw_only=True):
    """What crediting one person's year writes: the entries (hours converted first, then the
    year's accruals or adjustments, then what is left in hours converted), the credit records
    to upsert (person, year, account, unit, amount, balance before, digest, day) and the
    balances once the entries are applied."""

    entries: list[NewEntry]
    credits: list[tuple[Any, ...]]
    notes: list[CreditNote]
    balances: dict[str, int]


async def credit_year(
    db: Connection,
    person_id: UUID,
    year: int,
    *,
    today: dt.date,
    provenance: Provenance = SYSTEM,
) -> CreditResult:
    """Credit ``year`` (CPF, CEC, C2P) from the person's current declarations; re-runnable."""
    check_creditable(year, today)
    async with person_ledger_locked(db, person_id):
        state = await _state(db, await get_person(db, person_id), year)
        plan = plan_credit(state, year, today)
        await append_entries(db, plan.entries, provenance)
        for credit in plan.credits:
            await db.execute(sql("upsert_ledger_credit"), *credit)
    result = CreditResult(person_id=person_id, year=year, lines=[n.line for n in plan.notes])
    if result.changed:
        log.debug("year_credited", year=year, lines=len(result.lines))
    return result


def check_creditable(year: int, today: dt.date) -> None:
    """A year's rights are credited from the next year on, and none before the accounts."""
    if year >= today.year:
        raise YearNotClosed(f"rights for {year} are credited from {year + 1}")
    if year < FIRST_YEAR:
        raise YearNotClosed(f"no account counted rights in {year} (the first year is {FIRST_YEAR})")


async def credit_all(dsn: str, year: int, *, today: dt.date) -> CreditRunReport:
    """Credit everyone with a declaration for ``year``, one transaction per person.

    Persons are walked in a stable order; a re-run (after a crash, or just twice) skips what
    is already credited, so it ends with the same ledger as one uninterrupted run. A year not
    yet closed (or before the accounts) is refused, whether anyone declared it or not.
    """
    check_creditable(year, today)
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


async def _state(db: Connection, person: Person, year: int) -> CreditState:
    """One person's ``CreditState``, read by the person's own queries."""
    balances: dict[str, int] = {}
    for row in await db.fetch(sql("list_balances"), person.id):
        if row["grant_id"] is None:
            balances[row["pot"]] = row["balance"]
    held = await db.fetchrow(sql("get_held_cents"), person.id)
    assert held is not None, "an aggregate returns one row"
    return CreditState(
        person_id=person.id, birth_date=person.birth_date,
        full_rate_retirement_on=person.full_rate_retirement_on,
        records=records_of(await db.fetch(sql("list_ledger_credits"), person.id)),
        balances=balances, held=held_of(held),
        activity=await db.fetchrow(sql("get_activity_declaration"), person.id, year),
        engagements=await db.fetch(sql("list_validated_engagements"), person.id, year),
        exposures=await db.fetch(sql("list_current_exposures"), person.id, year),
    )  # fmt: skip


def held_of(row: Row) -> dict[str, int]:
    """The pending holds' euros per pot a ceiling reads (bigint sums: a numeric one came back
    as a Decimal, written into the trace's facts as a string)."""
    return {"cpf_statutory": row["statutory_cents"], "cec": row["cec_cents"]}


def records_of(rows: Iterable[Row]) -> Records:
    """The credit records of one person, by year and account."""
    return {
        (row["year"], row["account"]): _Record(
            row["amount"], row["balance_before"], bytes(row["inputs_sha256"])
        )
        for row in rows
    }


# -- planning: the state → the rules → entries ---------------------------------------------


def plan_credit(state: CreditState, year: int, today: dt.date) -> CreditPlan:
    """What crediting ``year`` writes for one person (pure but for the correlation ids): the
    hours stock converted, each account credited against the balance its ceiling reads, what
    is left in hours converted (``credit_year`` and the campaign both write this plan)."""
    plan = CreditPlan(entries=[], credits=[], notes=[], balances=dict(state.balances))
    _convert_hours(plan, state.person_id, today)
    inputs, sources = _inputs(state, year)
    ceilings = _ceiling_balances(state, plan.balances, year)
    for account in inputs.accounts():
        credit = _Credit(inputs, account, sources[account], ceilings[account])
        _apply(plan, state, credit, today)
    _convert_hours(plan, state.person_id, today)
    return plan


class _Credit(msgspec.Struct, frozen=True):
    """One account to credit for the year: its inputs, their source and its balance now."""

    inputs: YearInputs
    account: CreditAccount
    source: _Source
    balance_now: int


def _apply(plan: CreditPlan, state: CreditState, credit_: _Credit, today: dt.date) -> None:
    year, account = credit_.inputs.year, credit_.account
    pot = credit_pot(account, year)
    unit = POT_UNITS[pot]
    record = state.records.get((year, account))
    if record is not None and record.digest == credit_.source.digest:
        line = CreditLine(account=account, unit=unit, amount=record.amount, delta=0,
                          kind="unchanged")  # fmt: skip
        plan.notes.append(CreditNote(line=line, pot=pot, gross=record.amount, capped=False,
                                     inputs=credit_.inputs))  # fmt: skip
        return
    # A correction is computed against the balance the first crediting saw: the difference
    # then comes from the declaration alone, not from what happened to the balance since.
    before = record.balance_before if record is not None else credit_.balance_now
    credit = year_credit(credit_.inputs, account, before)
    delta = credit.amount - (record.amount if record is not None else 0)
    kind: Literal["accrual", "adjustment"] = "accrual" if record is None else "adjustment"
    if delta:
        plan.entries.append(NewEntry(
            person_id=state.person_id, pot=credit.pot, kind=kind, amount=delta,
            effective_on=today, correlation_id=uuid4(), credit_year=year, trace=credit.trace,
            declaration_id=credit_.source.declaration_id,
        ))  # fmt: skip
        plan.balances[credit.pot] = plan.balances.get(credit.pot, 0) + delta
    plan.credits.append((state.person_id, year, account, unit, credit.amount, before,
                         credit_.source.digest, today))  # fmt: skip
    line = CreditLine(account=account, unit=unit, amount=credit.amount, delta=delta, kind=kind)
    plan.notes.append(CreditNote(line=line, pot=pot, gross=credit.gross, capped=credit.capped,
                                 inputs=credit_.inputs))  # fmt: skip


def _earlier(records: Records, account: str, year: int) -> int:
    """What earlier years credited to ``account`` (hours or points acquired before)."""
    return sum(r.amount for (y, a), r in records.items() if a == account and y < year)


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(msgspec.json.encode(parts)).digest()


# -- inputs: declarations → the rules' terms ----------------------------------------------


def _ceiling_balances(state: CreditState, balances: dict[str, int], year: int) -> dict[str, int]:
    """Per account, the balance its ceiling reads now: the euro pots' balances (pending holds
    included), or what earlier years credited to an hours or points account."""
    accounts: tuple[CreditAccount, ...] = ("cpf", "cec", "c2p")
    ceilings: dict[str, int] = {}
    for account in accounts:
        pot = credit_pot(account, year)
        if pot in ("cpf_statutory", "cec"):
            ceilings[account] = balances.get(pot, 0) + state.held.get(pot, 0)
        else:
            ceilings[account] = _earlier(state.records, account, year)
    return ceilings


def _inputs(state: CreditState, year: int) -> tuple[YearInputs, dict[str, _Source]]:
    """The person's declarations for ``year`` and, per account, where they came from."""
    sources: dict[str, _Source] = {}
    activities, status = _activities(state, year, sources)
    engagements = _engagements(state, year, sources)
    exposures = _exposures(state, year, sources)
    inputs = YearInputs(year=year, birth_date=state.birth_date, status=status,
                        activities=activities, engagements=engagements,
                        exposures=exposures)  # fmt: skip
    return inputs, sources


def _activities(
    state: CreditState, year: int, sources: dict[str, _Source]
) -> tuple[list[Activity] | None, PersonYearStatus]:
    row = state.activity
    if row is None:
        return None, PersonYearStatus(full_rate_retirement_on=state.full_rate_retirement_on)
    declaration = _activity.decode(row["body"])
    # In the order of their kinds, as the simulation takes them: the order declared never
    # counts (two activities giving the same amount are traced to the same rule either way).
    activities = sorted(
        (
            Activity(
                kind=a.kind,
                worked_centihours=a.worked_centihours,
                reference_centihours=a.reference_centihours,
                months_active=a.months_active,
            )
            for a in declaration.activities
        ),
        key=lambda activity: activity.kind,
    )
    status = PersonYearStatus(
        low_qualified=declaration.low_qualified,
        disability=declaration.disability,
        full_rate_retirement_on=state.full_rate_retirement_on,
    )
    # The birth date gives the age the CPF stops at (L5421-4 1°): a corrected one recomputes.
    digest = _digest("cpf", year, activities, status, state.birth_date)
    sources["cpf"] = _Source(digest, row["id"])
    return activities, status


def _engagements(
    state: CreditState, year: int, sources: dict[str, _Source]
) -> list[Engagement] | None:
    if year < FIRST_CEC_YEAR:
        return None
    rows = state.engagements
    if not rows and (year, "cec") not in state.records:
        return None
    engagements = [_engagement_of(_engagement.decode(row["body"])) for row in rows]
    digest = _digest("cec", year, sorted(msgspec.json.encode(e) for e in engagements))
    sources["cec"] = _Source(digest, rows[-1]["id"] if rows else None)
    return engagements


def _exposures(state: CreditState, year: int, sources: dict[str, _Source]) -> list[Exposure] | None:
    rows = state.exposures
    if not rows and (year, "c2p") not in state.records:
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
    sources["c2p"] = _Source(_digest("c2p", year, state.birth_date, exposures), latest)
    return exposures


def _engagement_of(declared: EngagementDeclaration) -> Engagement:
    """The measures the rule reads, taken by name from the engagement as declared."""
    return msgspec.convert(declared, Engagement, from_attributes=True)


# -- hours → euros -------------------------------------------------------------------------


def _convert_hours(plan: CreditPlan, person_id: UUID, today: dt.date) -> None:
    """Once the euro era has begun, convert whatever hours stock (or hours correction) is
    left (``hours_conversions``), as paired entries sharing a correlation id."""
    if today < CONVERSION_DATE:
        return
    balances = plan.balances
    conversions = hours_conversions(balances.get("cpf_hours", 0), balances.get("cec_hours", 0))
    for conversion in conversions:
        for entry in _conversion(person_id, conversion, today):
            plan.entries.append(entry)
            balances[entry.pot] = balances.get(entry.pot, 0) + entry.amount


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
