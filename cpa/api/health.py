"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
from litestar import Controller, Request, get

from cpa.api.documented import public
from cpa.api.problems import DatabaseDown
from cpa.db.queries import sql
from cpa.errors import Unavailable
from cpa.types import ASGIApp, Receive, Scope, Send

READY_TIMEOUT_S = 2.0

ReadinessCheck = Callable[[], str | None]
"""A condition of readiness beside the database, added by an app factory to
``app.state[READINESS_CHECKS]`` (the demo app's: its data set is loaded): None when met, else
why not."""
READINESS_CHECKS = "readiness_checks"


class NotReady(Unavailable, slug="not-ready"):
    """The service is starting: retry shortly."""


class Health(msgspec.Struct):
    status: str


_LIVE = Health(status="ok")


_LIVE_BODY = msgspec.json.encode(_LIVE)
_LIVE_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_LIVE_BODY)).encode()),
    ],
}


class LivenessShortcut:
    """Answers ``GET /health/live`` before the framework: a liveness probe must stay cheap
    whatever the routing, middleware and dependency graph grow into (measured: about twice
    the requests/s of the routed handler). The routed handler below documents it in OpenAPI
    and answers the same body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/health/live" and scope["method"] == "GET":
            scope["path_template"] = "/health/live"
            await send(dict(_LIVE_START))
            await send({"type": "http.response.body", "body": _LIVE_BODY})
            return
        await self.app(scope, receive, send)


class HealthController(Controller):
    path = "/health"
    tags = ("health",)

    @get(
        "/live",
        operation_id="getLiveness",
        summary="The process answers",
        **public(every=False),
    )
    async def live(self) -> Health:
        return _LIVE

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="The process and its database answer",
        **public(DatabaseDown, every=False),
    )
    async def ready(self, request: Request) -> Health:  # type: ignore[type-arg]
        for check in request.app.state.get(READINESS_CHECKS, ()):
            reason = check()
            if reason is not None:
                raise NotReady(reason)
        # An unreachable database is an outage like any other (cpa.api.problems): a 503
        # problem with Retry-After, logged once per outage, not once per probe.
        async with asyncio.timeout(READY_TIMEOUT_S):
            async with request.app.state.db.acquire() as connection:
                await connection.fetchval(sql("check_ready"))
        return _LIVE
