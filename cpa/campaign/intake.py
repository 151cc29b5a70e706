"""Bulk intake: the operators' NDJSON files streamed into PostgreSQL, each line checked once.

A file is read in batches of ``BATCH_LINES`` lines: each line is decoded and checked by the
declarations API's own functions (``cpa.declarations``: the same decoder, the same checks, in
the same order), its person found by the keyed hash of the NIR in one query per batch (the
only check that reads the database, done set-based). The accepted lines of a batch are copied
(COPY) into a staging table of the session and written set-based while the next batch is
checked: the load's duplicates refused (a table of the keys seen so far), what is already
stored skipped, the rest inserted as the API stores them (a changed line is the next
revision). The whole load is one transaction: a crash leaves nothing, a rerun loads it all,
and loading the same file twice changes nothing. Rejected lines go to a rejects file, one RFC
9457 problem per line with the file and line number, put in place once the load commits. Only
two batches and the rejects' counts are held in memory, whatever the size of the files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
import structlog

from cpa.campaign.errors import (
    DuplicateLine,
    LineTooLong,
    OutsideCampaignYear,
    TruncatedLine,
    UnknownFileKind,
)
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.declarations import declare_activities, declare_engagements, declare_exposures
from cpa.declarations.models import PersonLine
from cpa.declarations.service import Declaring, check_person_named, decode_line, stored_body
from cpa.errors import CpaError, InvalidInput
from cpa.persons import (
    NewPerson,
    NirVault,
    PersonAlreadyRegistered,
    PersonNotFound,
    normalise_nir,
)
from cpa.provenance import SYSTEM, Provenance

log = structlog.get_logger(__name__)

BATCH_LINES = 20_000
"""Lines checked, looked up (one query) and copied together: the memory of a load."""
YIELD_EVERY_LINES = 500
"""How often checking lets the batch being written send its next statement (~5 ms)."""
LINE_BYTES_MAX = 64 * 1024
"""Far above any declaration line (a few hundred bytes); a longer one is refused unread."""

KINDS: dict[str, Declaring[Any]] = {
    "activities": declare_activities,
    "exposures": declare_exposures,
    "engagements": declare_engagements,
}
_LINE_COLUMNS = ("kind", "file_no", "line_no", "person_id", "year", "key", "dup_key", "body")
_PERSON_COLUMNS = (
    "file_no", "line_no", "nir_hmac", "nir_ciphertext", "birth_date", "death_on",
    "full_rate_retirement_on",
)  # fmt: skip
_INSERTS = ("insert_intake_activities", "insert_intake_exposures", "insert_intake_engagements")

L = TypeVar("L", bound=msgspec.Struct)
Raw = tuple[int, bytes, bool]  # (line number, the line, it has no end of line)


class IntakeReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a load did: lines read, stored, already stored (unchanged), rejected by type."""

    files: int
    lines: int
    stored: int
    unchanged: int
    rejected: int
    rejected_by_type: dict[str, int]
    rejects: str
    seconds: float
    lines_per_second: int


class Rejects:
    """The rejects file, written aside and put in place when the load commits."""

    def __init__(self, path: Path, files: Sequence[Path]) -> None:
        self.path, self.files = path, [str(file) for file in files]
        self._aside = path.with_name(path.name + ".part")
        self._out = self._aside.open("wb", buffering=1 << 16)
        self.by_type: dict[str, int] = {}
        self._encoder = msgspec.json.Encoder()

    @property
    def count(self) -> int:
        return sum(self.by_type.values())

    def add(self, file_no: int, line_no: int, error: CpaError) -> None:
        problem = {**error.to_problem(), "file": self.files[file_no], "line": line_no}
        self._out.write(self._encoder.encode(problem) + b"\n")
        self.by_type[error.slug] = self.by_type.get(error.slug, 0) + 1

    def commit(self) -> None:
        self._out.close()
        os.replace(self._aside, self.path)

    def discard(self) -> None:
        self._out.close()
        self._aside.unlink(missing_ok=True)


def kind_of(path: Path) -> str:
    """The kind of a declarations file, from its name (``activities-2024.ndjson`` …)."""
    for kind in KINDS:
        if path.name.startswith(kind):
            return kind
    raise UnknownFileKind(f"{path.name}: the name starts with one of {', '.join(KINDS)}")


def read_batches(path: Path) -> Iterator[list[Raw]]:
    """The file's non-blank lines, numbered from 1, ``BATCH_LINES`` at a time."""
    batch: list[Raw] = []
    with path.open("rb") as lines:
        for line_no, raw in enumerate(lines, 1):
            if raw.strip():
                batch.append((line_no, raw, not raw.endswith(b"\n")))
            if len(batch) == BATCH_LINES:
                yield batch
                batch = []
    if batch:
        yield batch


def _decoded(decoder: msgspec.json.Decoder[L], raw: bytes, unterminated: bool) -> L:
    """The line decoded as the API decodes it; a cut last line says so."""
    if len(raw) > LINE_BYTES_MAX:
        raise LineTooLong(f"{len(raw)} bytes, at most {LINE_BYTES_MAX}")
    try:
        return decode_line(decoder, raw)
    except InvalidInput as error:
        if unterminated:
            raise TruncatedLine(f"the file ends inside this line: {error.detail}") from None
        raise


# -- declarations --------------------------------------------------------------------------


class _Batch(Generic[L]):
    """One batch of one file: its lines decoded and named, then their persons found."""

    def __init__(self, file_no: int, *, rejects: Rejects) -> None:
        self.file_no, self.rejects = file_no, rejects
        self.named: list[tuple[int, L, bytes | UUID]] = []
        self.rejected: list[tuple[int, CpaError]] = []

    def reject(self, line_no: int, error: CpaError) -> None:
        self.rejected.append((line_no, error))

    def flush(self) -> None:
        """The batch's rejects in line order (a line may fail in either pass)."""
        for line_no, error in sorted(self.rejected, key=lambda rejected: rejected[0]):
            self.rejects.add(self.file_no, line_no, error)


def _name(line: PersonLine, vault: NirVault) -> bytes | UUID:
    """How the line's person is found: the keyed hash of the NIR (checked), or the id."""
    check_person_named(line)
    if line.nir is not None:
        return vault.lookup_hash(normalise_nir(line.nir))
    assert line.person_id is not None, "check_person_named() ran"
    return line.person_id


async def _persons(db: Connection, names: set[bytes | UUID]) -> dict[bytes | UUID, Any]:
    """The persons named in a batch (id, birth date), by hash or id: one or two queries."""
    hashes = [name for name in names if isinstance(name, bytes)]
    ids = [name for name in names if isinstance(name, UUID)]
    found: dict[bytes | UUID, Any] = {}
    if hashes:
        rows = await db.fetch(sql("list_persons_by_nir_hmacs"), hashes)
        found.update((bytes(row["nir_hmac"]), row) for row in rows)
    if ids:
        found.update((row["id"], row) for row in await db.fetch(sql("list_persons_by_ids"), ids))
    return found


def _dup_key(kind: str, keys: tuple[Any, ...], body: str) -> str:
    """Two lines of one load are the same declaration when this agrees (with person and year):
    the contract for exposures, the whole line for engagements (a person may have several)."""
    if kind == "engagements":
        return body
    return str(keys[0]) if keys else ""


async def _named(
    declaring: Declaring[Any], batch: _Batch[Any], raws: list[Raw], vault: NirVault
) -> None:
    """A batch's lines decoded and their persons named (the NIR checked and hashed)."""
    decoder = msgspec.json.Decoder(declaring.line_type)
    for index, (line_no, raw, unterminated) in enumerate(raws):
        if index % YIELD_EVERY_LINES == 0:
            await asyncio.sleep(0)  # the previous batch's write goes on meanwhile
        try:
            line = _decoded(decoder, raw, unterminated)
            batch.named.append((line_no, line, _name(line, vault)))
        except CpaError as error:
            batch.reject(line_no, error)


async def _checked(
    kind: str, batch: _Batch[Any], found: dict[bytes | UUID, Any], year: int, today: dt.date
) -> list[tuple[Any, ...]]:
    """The staging rows of the batch's named lines whose checks pass (the API's order: person,
    year and kind, career)."""
    declaring, rows = KINDS[kind], []
    for index, (line_no, line, name) in enumerate(batch.named):
        if index % YIELD_EVERY_LINES == 0:
            await asyncio.sleep(0)
        try:
            person = found.get(name)
            rows.append(_staged(kind, declaring, batch, line_no, line, person, year, today))
        except CpaError as error:
            batch.reject(line_no, error)
    return rows


def _staged(
    kind: str,
    declaring: Declaring[Any],
    batch: _Batch[Any],
    line_no: int,
    line: Any,
    person: Any,
    year: int,
    today: dt.date,
) -> tuple[Any, ...]:
    if person is None:
        if line.person_id is not None:  # the API checks such a line before looking for its id
            declaring.check_line(line, today)
        raise PersonNotFound()
    line = msgspec.structs.replace(line, person_id=person["id"], nir=None)
    declaring.check_line(line, today)
    if line.year != year:
        raise OutsideCampaignYear(f"{line.year} is not the campaign's year {year}")
    declaring.check_career(line, person["birth_date"])
    keys, body = declaring.keys(line), stored_body(line)
    key = str(keys[0]) if keys else None
    dup_key = _dup_key(kind, keys, body)
    return (kind, batch.file_no, line_no, person["id"], line.year, key, dup_key, body)


async def load_declarations(
    db: Connection,
    year: int,
    paths: Sequence[Path],
    *,
    today: dt.date,
    vault: NirVault,
    rejects_path: Path,
    provenance: Provenance = SYSTEM,
    lookup: Connection | None = None,
) -> IntakeReport:
    """Load declaration files of ``year`` (kind from each name); see the module's docstring.
    ``lookup``: a second connection for the persons' lookups, so that they run while ``db``
    writes the previous batch (without it, they wait for that write)."""
    started = time.perf_counter()
    kinds = [kind_of(path) for path in paths]
    rejects = Rejects(rejects_path, paths)
    writer = _Writer(db, rejects, provenance)
    try:
        async with db.transaction():
            await writer.begin()
            try:
                lines, staged = await _stage(
                    writer, lookup, paths, kinds, year=year, today=today, vault=vault
                )
            finally:
                await writer.settle()
    except BaseException:
        rejects.discard()
        raise
    rejects.commit()
    return _report(len(paths), lines, staged, writer.stored, rejects, started, "declarations")


async def _stage(
    writer: _Writer,
    lookup: Connection | None,
    paths: Sequence[Path],
    kinds: Sequence[str],
    *,
    year: int,
    today: dt.date,
    vault: NirVault,
) -> tuple[int, int]:
    """Every batch checked, then handed to the writer (which writes while the next one is
    checked); the lines read and staged."""
    lines = staged = 0
    for file_no, (path, kind) in enumerate(zip(paths, kinds, strict=True)):
        for raws in read_batches(path):
            lines += len(raws)
            batch: _Batch[Any] = _Batch(file_no, rejects=writer.rejects)
            await _named(KINDS[kind], batch, raws, vault)
            if lookup is None:
                await writer.wait()  # one connection: the lookup waits for the write
            found = await _persons(lookup or writer.db, {name for _, _, name in batch.named})
            rows = await _checked(kind, batch, found, year, today)
            await writer.wait()
            batch.flush()
            writer.write(rows)
            staged += len(rows)
    await writer.wait()
    return lines, staged


class _Writer:
    """Writes one batch at a time in the load's transaction, as a task: the next batch is
    checked meanwhile (the database and Python each on their own core)."""

    def __init__(self, db: Connection, rejects: Rejects, provenance: Provenance) -> None:
        self.db, self.rejects, self.provenance = db, rejects, provenance
        self.stored = 0
        self._task: asyncio.Task[int] | None = None

    async def begin(self) -> None:
        for name in ("lock_campaign_intake", "create_intake_lines", "create_intake_keys",
                     "clear_intake_keys"):  # fmt: skip
            await self.db.execute(sql(name))

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._task is None, "one batch written at a time"
        self._task = asyncio.create_task(self._write(rows))

    async def wait(self) -> None:
        """The batch being written, written (its error raised)."""
        task, self._task = self._task, None
        if task is not None:
            self.stored += await task

    async def settle(self) -> None:
        """No write left running on the connection (on the way out, an error or not)."""
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _write(self, rows: list[tuple[Any, ...]]) -> int:
        await self.db.execute(sql("clear_intake_lines"))
        await self.db.copy_records_to_table(
            "campaign_intake_lines", records=rows, columns=_LINE_COLUMNS
        )
        _duplicates(await self.db.fetch(sql("delete_intake_duplicates")), self.rejects)
        stored = 0
        for insert in _INSERTS:
            stored += _row_count(await self.db.execute(sql(insert), self.provenance.client_id))
        return stored


def _duplicates(rows: Sequence[Any], rejects: Rejects) -> None:
    for row in rows:
        first = f"line {row['first_line_no']} of {rejects.files[row['first_file_no']]}"
        rejects.add(row["file_no"], row["line_no"], DuplicateLine(f"the same as {first}"))


def _row_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _report(
    files: int, lines: int, staged: int, stored: int, rejects: Rejects, started: float, what: str
) -> IntakeReport:
    seconds = time.perf_counter() - started
    duplicates = rejects.by_type.get(DuplicateLine.slug, 0)
    conflicts = rejects.by_type.get("person-already-registered", 0)
    report = IntakeReport(
        files=files,
        lines=lines,
        stored=stored,
        unchanged=staged - duplicates - conflicts - stored,
        rejected=rejects.count,
        rejected_by_type=dict(sorted(rejects.by_type.items())),
        rejects=str(rejects.path),
        seconds=round(seconds, 3),
        lines_per_second=int(lines / seconds) if seconds > 0 else 0,
    )
    log.info(
        f"campaign_{what}_loaded",
        lines=lines, stored=stored, unchanged=report.unchanged, rejected=report.rejected,
        seconds=report.seconds,
    )  # fmt: skip
    return report


# -- persons -------------------------------------------------------------------------------


def _person_row(file_no: int, line_no: int, person: NewPerson, vault: NirVault) -> tuple[Any, ...]:
    """A person line as ``register_person`` stores it: NIR checked, hashed and encrypted."""
    nir = normalise_nir(person.nir)
    if person.death_on is not None and person.death_on < person.birth_date:
        raise InvalidInput("death_on is before birth_date")
    return (
        file_no, line_no, vault.lookup_hash(nir), vault.encrypt(nir), person.birth_date,
        person.death_on, person.full_rate_retirement_on,
    )  # fmt: skip


def _person_rows(
    file_no: int, raws: list[Raw], vault: NirVault, rejects: Rejects
) -> list[tuple[Any, ...]]:
    decoder = msgspec.json.Decoder(NewPerson)
    rows = []
    for line_no, raw, unterminated in raws:
        try:
            person = _decoded(decoder, raw, unterminated)
            rows.append(_person_row(file_no, line_no, person, vault))
        except CpaError as error:
            rejects.add(file_no, line_no, error)
    return rows


async def load_persons(
    db: Connection, paths: Sequence[Path], *, vault: NirVault, rejects_path: Path
) -> IntakeReport:
    """Register the persons of NDJSON files of ``{nir, birth_date, …}`` lines, all or none."""
    started = time.perf_counter()
    rejects = Rejects(rejects_path, paths)
    try:
        await db.execute(sql("create_intake_persons"))
        await db.execute(sql("clear_intake_persons"))
        lines = staged = 0
        for file_no, path in enumerate(paths):
            for raws in read_batches(path):
                lines += len(raws)
                rows = _person_rows(file_no, raws, vault, rejects)
                await db.copy_records_to_table(
                    "campaign_intake_persons", records=rows, columns=_PERSON_COLUMNS
                )
                staged += len(rows)
        stored = await _write_persons(db, rejects)
    except BaseException:
        rejects.discard()
        raise
    rejects.commit()
    return _report(len(paths), lines, staged, stored, rejects, started, "persons")


async def _write_persons(db: Connection, rejects: Rejects) -> int:
    async with db.transaction():
        await db.execute(sql("lock_campaign_intake"))
        _duplicates(await db.fetch(sql("delete_intake_person_duplicates")), rejects)
        for row in await db.fetch(sql("delete_intake_person_conflicts")):
            error = PersonAlreadyRegistered("registered with other dates")
            rejects.add(row["file_no"], row["line_no"], error)
        stored = _row_count(await db.execute(sql("insert_intake_persons")))
        await db.execute(sql("clear_intake_persons"))
    return stored
