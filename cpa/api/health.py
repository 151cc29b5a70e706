"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
from litestar import Controller, Request, get

from cpa.db.queries import sql
from cpa.errors import Unavailable

READY_TIMEOUT_S = 2.0


class Health(msgspec.Struct):
    status: str


_LIVE = Health(status="ok")


class DatabaseUnavailable(Unavailable):
    """The database does not answer."""

    slug = "database-unavailable"


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="getLiveness", summary="The process answers")
    async def live(self) -> Health:
        return _LIVE

    @get("/ready", operation_id="getReadiness", summary="The process and its database answer")
    async def ready(self, request: Request) -> Health:  # type: ignore[type-arg]
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                async with request.app.state.db.acquire() as connection:
                    await connection.fetchval(sql("check_ready"))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable() from error
        return _LIVE
