"""A synthetic population and its yearly declarations, as the operators' files carry them.

Deterministic for a seed (one ``random.Random`` drawn in a fixed order) and streamed: a person
is drawn, written, and forgotten, so 10 million persons never sit in memory. The lines are the
declarations API's own Structs (``cpa.declarations``), encoded as it decodes them.

Shares (of persons, over their working years): independents 8 %, employee-and-independent
3 %, ESAT workers 0.5 %, the rest employees, of whom 22 % part time (20–95 % of the reference
time), 8 % with several employers (their hours summed, up to 125 %), 5 % with a conventional
reference time; 12 % low-qualified, 3.5 % with a disability (BOE); 2 % of employees exposed to
C2P factors (a contract per year, factor mixes of the factors of the year, some below their
threshold); 4 % engaged in a CEC activity each year from 2017. A working year is missed with
probability 8 % (unemployment, studies); nobody works before 16 nor after 67 here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import msgspec

from cpa.declarations import (
    ActivityDeclaration,
    DeclaredActivity,
    EngagementDeclaration,
    ExposureDeclaration,
)
from cpa.errors import InvalidInput
from cpa.persons import NewPerson, nir_key
from cpa.rules.accounts import FIRST_C2P_YEAR, FIRST_CEC_YEAR, FIRST_CPF_YEAR

FULL_TIME_CENTIHOURS = 160_700
PERSONS_MAX = 90_000_000
"""Below the 94 million distinct (department, commune, order) tails a NIR can take here."""
FILE_BUFFER_BYTES = 1 << 20
KINDS = ("activities", "exposures", "engagements")
FIRST_INDEPENDENT_YEAR = 2018  # independents have a CPF from 2018 (décret 2016-1999)
FIRST_WORKING_AGE, LAST_WORKING_AGE = 16, 67
C2P_SHRUNK_ON = 2018  # four factors left the C2P on 2017-10-01 (ordonnance 2017-1389)

# (factor mix, weight, intensities drawn around the threshold)
_FACTOR_MIXES: tuple[tuple[dict[str, tuple[int, int]], int], ...] = (
    ({"night_work": (90, 220)}, 40),
    ({"alternating_shifts": (35, 120)}, 25),
    ({"night_work": (110, 200), "noise_daily": (560, 700)}, 10),
    ({"repetitive_work": (800, 1200)}, 10),
    ({"noise_daily": (560, 720)}, 10),
    ({"extreme_temperatures": (800, 1100)}, 5),
)
_OLD_FACTORS = {"manual_handling": (500, 800), "painful_postures": (800, 1200)}
_ENGAGEMENTS = (
    ("associative_volunteering", 50),
    ("volunteer_firefighter", 20),
    ("military_reserve", 10),
    ("civic_service", 8),
    ("apprentice_master", 7),
    ("health_reserve", 5),
)
_ORGANISATIONS = ("Restos du Cœur", "SDIS 69", "Armée de terre", "Croix-Rouge", "ACME SAS")


class Profile(msgspec.Struct, frozen=True, gc=False):
    """What a person is over their career (drawn once)."""

    kind: str  # employee, independent, mixed, esat
    share_percent: int
    reference_centihours: int
    low_qualified: bool
    disability: bool
    exposed: bool


def parse_years(text: str) -> range:
    """``2015-2025`` (or one year) as a range of declaration years the API accepts."""
    first, _, last = text.partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise InvalidInput(f"years are FIRST-LAST, got {text!r}") from None
    if not years or years.start < FIRST_CPF_YEAR or years.stop - 1 >= dt.date.today().year:
        raise InvalidInput(f"years are past years from {FIRST_CPF_YEAR}, got {text!r}")
    return years


def synthesize(persons: int, seed: int, years: range, out: Path) -> dict[str, int]:
    """Write ``persons.ndjson`` and ``<kind>-<year>.ndjson`` in ``out``; the lines counted."""
    if not 0 < persons <= PERSONS_MAX:
        raise InvalidInput(f"between 1 and {PERSONS_MAX} persons")
    out.mkdir(parents=True, exist_ok=True)
    counts = {"persons": 0, **{kind: 0 for kind in KINDS}}
    encoder = msgspec.json.Encoder()
    with ExitStack() as files:
        persons_file = files.enter_context(_open(out / "persons.ndjson"))
        by_kind = {
            (kind, year): files.enter_context(_open(out / f"{kind}-{year}.ndjson"))
            for kind in KINDS
            for year in years
        }
        rng = random.Random(seed)
        for index in range(persons):
            person = _person(rng, index, persons)
            persons_file.write(encoder.encode(person) + b"\n")
            counts["persons"] += 1
            for kind, line in _career(rng, index, person, years):
                by_kind[kind, line.year].write(encoder.encode(line) + b"\n")
                counts[kind] += 1
    return counts


def _open(path: Path) -> IO[bytes]:
    return path.open("wb", buffering=FILE_BUFFER_BYTES)


# -- a person ------------------------------------------------------------------------------


def _person(rng: random.Random, index: int, persons: int) -> NewPerson:
    birth = dt.date(rng.randint(1958, 2007), rng.randint(1, 12), rng.randint(1, 28))
    return NewPerson(nir=_nir(rng.choice("12"), birth, _spread(index, persons)), birth_date=birth)


def _spread(index: int, persons: int) -> int:
    """A bijection of the indexes (so NIRs are distinct) that does not look like a counter."""
    return (index * 7_919_111 + 13) % PERSONS_MAX if persons > 1 else index


def _nir(sex: str, birth: dt.date, tail: int) -> str:
    """A valid NIR: sex, year, month of birth, then department, commune, order from ``tail``."""
    order, tail = tail % 999 + 1, tail // 999
    commune, department = tail % 990 + 1, tail // 990 % 95 + 1
    dep = ("2A" if commune % 2 else "2B") if department == 20 else f"{department:02d}"
    number = f"{sex}{birth.year % 100:02d}{birth.month:02d}{dep}{commune:03d}{order:03d}"
    return number + nir_key(number)


def _profile(rng: random.Random) -> Profile:
    draw = rng.random()
    kind = "independent" if draw < 0.08 else "mixed" if draw < 0.11 else "employee"
    kind = "esat" if draw > 0.995 else kind
    part_time, several = rng.random() < 0.22, rng.random() < 0.08
    share = rng.randint(20, 95) if part_time else rng.randint(100, 125) if several else 100
    reference = rng.choice((156_000, 182_000)) if rng.random() < 0.05 else 0
    return Profile(
        kind=kind,
        share_percent=share,
        reference_centihours=reference,
        low_qualified=rng.random() < 0.12,
        disability=rng.random() < 0.035,
        exposed=kind in ("employee", "mixed") and rng.random() < 0.02,
    )


# -- a career ------------------------------------------------------------------------------


def _career(
    rng: random.Random, index: int, person: NewPerson, years: range
) -> Iterator[tuple[str, Any]]:
    profile = _profile(rng)
    birth = person.birth_date
    for year in years:
        if not FIRST_WORKING_AGE < year - birth.year <= LAST_WORKING_AGE or rng.random() < 0.08:
            continue
        activity = _activity(rng, profile, person.nir, year)
        if activity is not None:
            yield "activities", activity
        if profile.exposed and year >= FIRST_C2P_YEAR:
            yield "exposures", _exposure(rng, index, person, year)
        if year >= FIRST_CEC_YEAR and rng.random() < 0.04:
            yield "engagements", _engagement(rng, person.nir, year)


def _activity(
    rng: random.Random, profile: Profile, nir: str, year: int
) -> ActivityDeclaration | None:
    activities = []
    if profile.kind in ("employee", "mixed"):
        worked = FULL_TIME_CENTIHOURS * profile.share_percent // 100 - rng.randint(0, 2_000)
        activities.append(
            DeclaredActivity(
                kind="employee",
                worked_centihours=max(worked, 100),
                reference_centihours=profile.reference_centihours,
            )
        )
    if profile.kind in ("independent", "mixed") and year >= FIRST_INDEPENDENT_YEAR:
        months = 12 if rng.random() < 0.85 else rng.randint(1, 11)
        activities.append(DeclaredActivity(kind="independent", months_active=months))
    if profile.kind == "esat":
        activities.append(DeclaredActivity(kind="esat", months_active=12))
    if not activities:
        return None
    return ActivityDeclaration(
        nir=nir,
        year=year,
        activities=activities,
        low_qualified=profile.low_qualified,
        disability=profile.disability,
    )


def _exposure(rng: random.Random, index: int, person: NewPerson, year: int) -> ExposureDeclaration:
    mix = rng.choices([m for m, _ in _FACTOR_MIXES], [w for _, w in _FACTOR_MIXES])[0]
    if year < C2P_SHRUNK_ON and rng.random() < 0.3:
        mix = {**mix, **_OLD_FACTORS}
    factors = {factor: rng.randint(low, high) for factor, (low, high) in mix.items()}
    # A contract held for some years already, begun at 16 at the earliest.
    youngest = dt.date(person.birth_date.year + FIRST_WORKING_AGE + 1, 1, 1)
    start = max(dt.date(year - rng.randint(0, 5), 1, 1), youngest)
    return ExposureDeclaration(
        nir=person.nir,
        year=year,
        contract_ref=f"CT-{index}-{start.year}",
        contract_start=start,
        contract_end=dt.date(year, 12, 31),
        factors=factors,  # type: ignore[arg-type]  # factor names of cpa.rules.Factor
    )


def _engagement(rng: random.Random, nir: str, year: int) -> EngagementDeclaration:
    kinds = [k for k, _ in _ENGAGEMENTS]
    kind = rng.choices(kinds, [w for _, w in _ENGAGEMENTS])[0]
    hours = rng.randint(50, 400)
    return EngagementDeclaration(
        nir=nir,
        year=year,
        organisation=rng.choice(_ORGANISATIONS),
        kind=kind,  # type: ignore[arg-type]  # one of cpa.rules.EngagementKind
        hours=hours,
        hours_in_one_organisation=hours,
        days=rng.randint(10, 120),
        months=rng.randint(3, 12),
        years=rng.randint(1, 6),
        role="board_member" if rng.random() < 0.2 else None,
    )
