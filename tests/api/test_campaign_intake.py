"""Loading a file with the campaign's bulk intake stores the same rows as posting its lines to
the declarations API: same persons, years, keys, revisions, bodies, statuses and client."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cpa.campaign import load_declarations, load_persons, synthesize
from cpa.provenance import Provenance
from tests.api.conftest import World

YEAR = 2021
KINDS = ("activities", "exposures", "engagements")
SNAPSHOTS = {
    "activities": "select person_id, year, revision, body::text, client_id"
    " from activity_declarations where year = $1 and person_id <> all($2::uuid[])",
    "exposures": "select person_id, year, contract_ref, revision, body::text, client_id"
    " from c2p_exposure_declarations where year = $1 and person_id <> all($2::uuid[])",
    "engagements": "select person_id, year, organisation, body::text, status, client_id"
    " from cec_engagements where year = $1 and person_id <> all($2::uuid[])",
}


async def _snapshot(db: asyncpg.Connection, world: World) -> dict[str, list[tuple[Any, ...]]]:
    """The year's rows of every kind, the world's own two persons left out."""
    others = [world.alice.id, world.bob.id]
    return {
        kind: sorted(tuple(row) for row in await db.fetch(query, YEAR, others))
        for kind, query in SNAPSHOTS.items()
    }


async def test_a_loaded_file_stores_what_the_api_stores(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection, tmp_path: Path
) -> None:
    synthesize(150, 11, range(YEAR, YEAR + 1), tmp_path)
    vault = world.app.state.vault
    operator = world.clients["operator"]["client_id"]
    await load_persons(wdb, [tmp_path / "persons.ndjson"], vault=vault, rejects_path=tmp_path / "p")
    files = [tmp_path / f"{kind}-{YEAR}.ndjson" for kind in KINDS]

    bulk = wdb.transaction()
    await bulk.start()
    report = await load_declarations(
        wdb, YEAR, files, today=dt.date.today(), vault=vault, rejects_path=tmp_path / "r",
        provenance=Provenance(client_id=operator),
    )  # fmt: skip
    loaded = await _snapshot(wdb, world)
    await bulk.rollback()

    headers = {
        **world.bearer(world.machine["operator"]),
        "Content-Type": "application/x-ndjson",
    }
    for kind, file in zip(KINDS, files, strict=True):
        response = await api.post(
            f"/v1/declarations/{kind}", content=file.read_bytes(), headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0
    posted = await _snapshot(wdb, world)
    assert report.rejected == 0
    assert all(posted[kind] for kind in KINDS), "the population declares every kind"
    assert report.stored == sum(len(rows) for rows in posted.values())
    assert loaded == posted
