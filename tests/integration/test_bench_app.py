"""The bench's twins and floors are mounted by the bench's app factory only (tests/bench/app.py),
and the route middleware (the token guard) holds on them as on every route."""

from __future__ import annotations

import asyncpg
import httpx
from litestar import Litestar

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from tests.bench.app import create_bench_app

BENCH_PATHS = {
    "/bench/me",
    "/v1/bench/read-floor",
    "/v1/bench/hold-floor",
    "/v1/bench/hold-db-floor",
}


def _paths(app: Litestar) -> set[str]:
    return {route.path for route in app.routes}


async def test_only_the_bench_app_mounts_the_twins_and_floors(
    db: asyncpg.Connection, settings: Settings
) -> None:
    database = ConnectionDatabase(db)
    assert _paths(create_app(settings, database)).isdisjoint(BENCH_PATHS)
    bench = create_bench_app(settings, database)
    assert _paths(bench) >= BENCH_PATHS
    assert _paths(bench) - BENCH_PATHS == _paths(create_app(settings, database))
    transport = httpx.ASGITransport(app=bench)
    async with httpx.AsyncClient(transport=transport, base_url="http://cpa.test") as http:
        refused = await http.get("/v1/bench/read-floor")
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
