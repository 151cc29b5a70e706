"""Declaration batches: answered line by line, all-or-nothing per line."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest

from cpa.declarations import BATCH_LINES_MAX, BatchTooLarge, declare_activities, split_batch
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
