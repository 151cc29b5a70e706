"""Benchmark twins: the same handler bodies as guarded routes, without the guard.

Mounted only when ``CPA_BENCH_TWINS`` is set (``make bench`` does, nothing else should), so
that the cost of the guard is measured in the same run as the guarded route, on the same
server. They live outside ``/v1``; ``/bench/me`` tells only a consent's expiry date.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get

from cpa.api.me import Me, load_me
from cpa.auth.principal import Principal


class BenchTwinController(Controller):
    path = "/bench"
    tags = ("bench",)
    include_in_schema = False

    @get("/me", operation_id="benchMeUnguarded")
    async def me(
        self, request: Request[Any, Any, Any], consent_id: UUID, sub: str, client_id: str
    ) -> Me:
        principal = Principal(
            client_id=client_id,
            client_kind="portal",
            scopes=frozenset({"account:read"}),
            jti="bench",
            sub=sub,
            consent_id=consent_id,
        )
        return await load_me(request.app.state.db, principal)
