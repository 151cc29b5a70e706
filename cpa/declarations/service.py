"""Declarations in: batches of lines, each validated and written on its own.

A batch is all-or-nothing per line: a line is decoded (unknown fields refused), checked, then
written inside its own savepoint, so one bad line is reported without undoing the good ones.
The campaign reuses these functions; the HTTP layer only parses the body (``split_batch``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
import structlog

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.declarations.errors import (
    BatchTooLarge,
    BatchUnreadable,
    DeclarationInFuture,
    EngagementAlreadyDecided,
    EngagementNotFound,
    ImpossibleCareer,
)
from cpa.declarations.models import (
    ActivityDeclaration,
    BatchResult,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
    LineResult,
    PersonLine,
)
from cpa.errors import CpaError, InvalidInput
from cpa.persons import NirVault, find_person_by_nir, get_person
from cpa.provenance import SYSTEM, Provenance
from cpa.rules.accounts import FIRST_C2P_YEAR, FIRST_CEC_YEAR, FIRST_CPF_YEAR
from cpa.rules.ages import CareerProblem, career_problem, contract_problem

log = structlog.get_logger(__name__)

BATCH_LINES_MAX = 1_000
TEXT_LENGTH_MAX = 200
MONTHS_PER_YEAR = 12

L = TypeVar("L", bound=msgspec.Struct)
D = TypeVar("D", ActivityDeclaration, ExposureDeclaration, EngagementDeclaration)
P = TypeVar("P", bound=PersonLine)
Written = tuple[Any, int | None, UUID]  # (id, revision, the person whose data it is)


def split_batch(body: bytes, *, ndjson: bool) -> list[bytes]:
    """The lines of a batch body (NDJSON or a JSON array), each one JSON document."""
    if ndjson:
        lines = [line for line in body.splitlines() if line.strip()]
    else:
        try:
            lines = [bytes(raw) for raw in msgspec.json.decode(body, type=list[msgspec.Raw])]
        except msgspec.ValidationError as error:
            raise InvalidInput(f"the body must be a JSON array of lines: {error}") from None
        except msgspec.DecodeError as error:
            raise InvalidInput(f"the body is not JSON: {error}") from None
        except RecursionError:  # msgspec's own depth limit, raised before any stack trouble
            raise BatchUnreadable("the body nests deeper than a batch line can") from None
    if len(lines) > BATCH_LINES_MAX:
        raise BatchTooLarge(f"{len(lines)} lines, at most {BATCH_LINES_MAX}")
    return lines


class Declaring(Generic[D]):
    """One kind of declaration line and how it is written; calling it records a batch of them,
    line by line (each line's checks, then its insert: a correction is a new revision)."""

    def __init__(
        self,
        line_type: type[D],
        first_year: int,
        check: Callable[[D], None],
        insert: str,
        event: str,
        *,
        keys: Callable[[D], tuple[Any, ...]] = lambda line: (),
        contract: Callable[[D], tuple[dt.date, dt.date] | None] = lambda line: None,
    ) -> None:
        self.line_type: type[D] = line_type
        self.first_year = first_year
        self.check: Callable[[D], None] = check
        self.contract: Callable[[D], tuple[dt.date, dt.date] | None] = contract
        self.insert, self.event = insert, event
        self.keys: Callable[[D], tuple[Any, ...]] = keys

    def check_line(self, line: D, today: dt.date) -> None:
        """The checks that need nothing stored: the year, then the kind's own checks (the
        campaign's bulk intake runs these same ones)."""
        _check_year(line.year, today, self.first_year)
        self.check(line)

    def check_career(self, line: D, birth_date: dt.date) -> None:
        """The line within the career of a person born on ``birth_date``."""
        _check_career(birth_date, line, self.contract(line))

    async def __call__(
        self,
        db: Connection,
        lines: Sequence[bytes | D],
        *,
        today: dt.date,
        provenance: Provenance = SYSTEM,
        vault: NirVault | None = None,
        touched: set[UUID] | None = None,
    ) -> BatchResult:
        async def write(line: D) -> Written:
            self.check_line(line, today)
            person_id = _person_id(line)
            self.check_career(line, (await get_person(db, person_id)).birth_date)
            row = await db.fetchrow(
                sql(self.insert),
                person_id,
                line.year,
                *self.keys(line),
                stored_body(line),
                provenance.client_id,
            )
            assert row is not None, "an insert returns its row"
            return row["id"], row.get("revision"), person_id

        return await _run_batch(db, lines, self.line_type, write, self.event, vault, touched)


async def decide_engagements(
    db: Connection,
    lines: Sequence[bytes | EngagementDecision],
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
    touched: set[UUID] | None = None,
) -> BatchResult:
    """The organisation validates or refuses declared engagements, line by line."""

    async def write(line: EngagementDecision) -> Written:
        row = await db.fetchrow(
            sql("decide_cec_engagement"), line.engagement_id, line.decision, now
        )
        if row is None:
            status = await db.fetchval(sql("get_cec_engagement_status"), line.engagement_id)
            if status is None:
                raise EngagementNotFound()
            raise EngagementAlreadyDecided(f"the engagement is already {status}")
        return row["id"], None, row["person_id"]

    return await _run_batch(
        db, lines, EngagementDecision, write, "engagements_decided", None, touched
    )


# -- the batch loop ------------------------------------------------------------------------


async def _identify(db: Connection, vault: NirVault | None, line: P) -> P:
    """``line`` naming its person by id: a NIR is looked up (an invalid NIR or nobody
    registered with it refuses the line) and dropped, so that no NIR is ever stored in clear.
    ``vault`` None: lines must name their person by id."""
    check_person_named(line)
    if line.nir is None:
        return line
    if vault is None:
        raise InvalidInput("name the person by person_id here")
    person = await find_person_by_nir(db, vault, line.nir)
    return msgspec.structs.replace(line, person_id=person.id, nir=None)


def check_person_named(line: PersonLine) -> None:
    """A line names its person by exactly one of ``nir``, ``person_id``."""
    if (line.nir is None) == (line.person_id is None):
        raise InvalidInput(
            "name the person by exactly one of nir, person_id",
            errors=[{"field": "nir", "message": "exactly one of nir, person_id"}],
        )


def decode_line(decoder: msgspec.json.Decoder[L], raw: bytes) -> L:
    """One line decoded, or the problem the batch answers for it (unknown fields refused)."""
    try:
        return decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput(str(error)) from None
    except RecursionError:  # a line nested deeper than msgspec's limit
        raise BatchUnreadable("the line nests too deep") from None


def _person_id(line: PersonLine) -> UUID:
    assert line.person_id is not None, "_identify() ran first"
    return line.person_id


async def _run_batch(
    db: Connection,
    lines: Sequence[bytes | L],
    line_type: type[L],
    write: Callable[[L], Awaitable[Written]],
    event: str,
    vault: NirVault | None,
    touched: set[UUID] | None,
) -> BatchResult:
    """Each line decoded, its person identified, written in a savepoint; ``touched`` (when
    given) gets the persons whose data an accepted line changed, for their access journal."""
    if len(lines) > BATCH_LINES_MAX:
        raise BatchTooLarge(f"{len(lines)} lines, at most {BATCH_LINES_MAX}")
    decoder = msgspec.json.Decoder(line_type)
    results = []
    for index, raw in enumerate(lines):
        try:
            line = decode_line(decoder, raw) if isinstance(raw, bytes) else raw
            if isinstance(line, PersonLine):
                line = await _identify(db, vault, line)
            async with db.transaction():  # a savepoint: a failed line leaves no trace
                with domain_errors():
                    written_id, revision, person_id = await write(line)
            if touched is not None:
                touched.add(person_id)
            results.append(
                LineResult(index=index, status="accepted", id=written_id, revision=revision)
            )
        except CpaError as error:
            results.append(LineResult(index=index, status="rejected", problem=error.to_problem()))
    accepted = sum(1 for r in results if r.status == "accepted")
    log.info(event, accepted=accepted, rejected=len(results) - accepted)
    return BatchResult(accepted=accepted, rejected=len(results) - accepted, lines=results)


# -- checks --------------------------------------------------------------------------------


def _check_year(year: int, today: dt.date, first: int) -> None:
    if year > today.year:
        raise DeclarationInFuture(f"{year} is after {today.year}")
    if year < first:
        raise InvalidInput(
            f"no rights before {first}", errors=[{"field": "year", "message": f">= {first}"}]
        )


def _check_career(
    birth_date: dt.date,
    line: ActivityDeclaration | ExposureDeclaration | EngagementDeclaration,
    contract: tuple[dt.date, dt.date] | None = None,
) -> None:
    """The line's year (and contract) within the person's possible career: after birth, from
    the youngest working age (``cpa.rules.ages``, the rule the simulation applies too)."""
    problem = career_problem(birth_date, line.year)
    if problem is not None:
        raise _impossible("$.year", problem)
    problem = None if contract is None else contract_problem(birth_date, *contract)
    if contract is not None and problem is not None:
        field = "$.contract_start" if contract[0] < birth_date else "$.contract_end"
        raise _impossible(field, problem)


def _impossible(field: str, problem: CareerProblem) -> ImpossibleCareer:
    return ImpossibleCareer(
        f"{field[2:]}: {problem.message}", errors=[{"field": field, "message": problem.message}]
    )


def _check_activities(line: ActivityDeclaration) -> None:
    for activity in line.activities:
        if min(activity.worked_centihours, activity.reference_centihours) < 0:
            raise InvalidInput("hours cannot be negative")
        if not 0 <= activity.months_active <= MONTHS_PER_YEAR:
            raise InvalidInput("months_active is between 0 and 12")


def _check_exposure(line: ExposureDeclaration) -> None:
    if not line.contract_ref.strip() or len(line.contract_ref) > TEXT_LENGTH_MAX:
        raise InvalidInput("contract_ref has 1 to 200 characters")
    if line.contract_end < line.contract_start:
        raise InvalidInput("the contract ends before it starts")
    if line.contract_start.year > line.year or line.contract_end.year < line.year:
        raise InvalidInput(f"the contract does not cover {line.year}")
    if any(intensity < 0 for intensity in line.factors.values()):
        raise InvalidInput("an exposure intensity cannot be negative")


def _check_engagement(line: EngagementDeclaration) -> None:
    if not line.organisation.strip() or len(line.organisation) > TEXT_LENGTH_MAX:
        raise InvalidInput("organisation has 1 to 200 characters")
    measures = (line.hours, line.hours_in_one_organisation, line.days, line.months, line.years)
    if min(*measures, line.interventions) < 0:
        raise InvalidInput("a measure cannot be negative")


def stored_body(line: msgspec.Struct) -> str:
    """A line as it is stored (its person by id, no NIR): the same text from every path."""
    return msgspec.json.encode(line).decode()


# Each kind: its line, its first year, its checks, its insert and its log event.
declare_activities = Declaring(
    ActivityDeclaration, FIRST_CPF_YEAR, _check_activities,
    "insert_activity_declaration", "activities_declared",
)  # fmt: skip
"""Record yearly activities (employee hours, independent months, ESAT), line by line."""

declare_exposures = Declaring(
    ExposureDeclaration, FIRST_C2P_YEAR, _check_exposure,
    "insert_exposure_declaration", "exposures_declared",
    keys=lambda line: (line.contract_ref,),
    contract=lambda line: (line.contract_start, line.contract_end),
)  # fmt: skip
"""Record C2P exposures, one contract and year per line."""

declare_engagements = Declaring(
    EngagementDeclaration, FIRST_CEC_YEAR, _check_engagement,
    "insert_cec_engagement", "engagements_declared",
    keys=lambda line: (line.organisation,),
)  # fmt: skip
"""Record declared CEC engagements (credited once validated by the organisation)."""
