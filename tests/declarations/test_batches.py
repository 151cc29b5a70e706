"""Declaration batches: answered line by line, all-or-nothing per line."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec
import pytest

from cpa.declarations import (
    BATCH_LINES_MAX,
    BatchTooLarge,
    EngagementDeclaration,
    ExposureDeclaration,
    declare_activities,
    declare_engagements,
    declare_exposures,
    split_batch,
)
from tests.ledger.support import TODAY, activity_line, new_person


async def test_one_bad_line_among_good_ones(db: asyncpg.Connection) -> None:
    person = await new_person(db)
    good = msgspec.json.encode(activity_line(person.id, 2024))
    future = msgspec.json.encode(activity_line(person.id, TODAY.year + 1))
    unknown = good[:-1] + b', "bonus": 1}'
    stranger = msgspec.json.encode(activity_line(uuid.uuid4(), 2024))
    negative = good.replace(b'"worked_centihours":160700', b'"worked_centihours":-1')
    body = b"\n".join([good, future, unknown, stranger, negative, good])
    result = await declare_activities(db, split_batch(body, ndjson=True), today=TODAY)
    assert [(line.status, line.revision) for line in result.lines] == [
        ("accepted", 1), ("rejected", None), ("rejected", None), ("rejected", None),
        ("rejected", None), ("accepted", 2),
    ]  # fmt: skip
    slugs = [line.problem["type"].rsplit(":", 1)[1] for line in result.lines if line.problem]
    assert slugs == ["declaration-in-future", "invalid-input", "person-not-found", "invalid-input"]
    assert "bonus" in result.lines[2].problem["detail"]  # type: ignore[index]
    count = await db.fetchval("select count(*) from activity_declarations where person_id = $1",
                              person.id)  # fmt: skip
    assert count == 2


def test_a_json_array_is_split_and_bounded() -> None:
    assert split_batch(b'[{"a": 1}, {"b": [2]}]', ndjson=False) == [b'{"a": 1}', b'{"b": [2]}']
    with pytest.raises(BatchTooLarge):
        split_batch(b"{}\n" * (BATCH_LINES_MAX + 1), ndjson=True)


async def test_declarations_before_the_person_could_work_are_refused(
    db: asyncpg.Connection,
) -> None:
    """The rule the simulation applies (cpa.rules.ages): nothing dated before the person is 15
    (CT L4153-1 1°, L5151-2) or before birth; the line is refused with its field named."""
    teen = await new_person(db, dt.date(2009, 7, 1))  # 15 on 2024-07-01
    activities = await declare_activities(
        db, [activity_line(teen.id, 2023), activity_line(teen.id, 2024)], today=TODAY
    )
    assert [line.status for line in activities.lines] == ["rejected", "accepted"]
    exposure = ExposureDeclaration(
        person_id=teen.id, year=2024, contract_ref="C-1", contract_start=dt.date(2024, 1, 1),
        contract_end=dt.date(2024, 6, 30), factors={"night_work": 130},
    )  # fmt: skip
    adult_contract = msgspec.structs.replace(exposure, contract_end=dt.date(2024, 12, 31))
    exposures = await declare_exposures(db, [exposure, adult_contract], today=TODAY)
    assert [line.status for line in exposures.lines] == ["rejected", "accepted"]
    engagement = EngagementDeclaration(
        person_id=teen.id, year=2023, organisation="Armée", kind="military_reserve", days=90
    )
    engagements = await declare_engagements(db, [engagement], today=TODAY)
    refused = [activities.lines[0], exposures.lines[0], engagements.lines[0]]
    assert [line.problem["type"].rsplit(":", 1)[1] for line in refused if line.problem] == [
        "impossible-career"
    ] * 3
    fields = [line.problem["errors"][0]["field"] for line in refused if line.problem]
    assert fields == ["$.year", "$.contract_end", "$.year"]
    before_birth = await new_person(db, dt.date(2016, 2, 1))
    born_later = await declare_activities(db, [activity_line(before_birth.id, 2015)], today=TODAY)
    problem = born_later.lines[0].problem
    assert problem is not None and "before the person's birth" in problem["detail"]
