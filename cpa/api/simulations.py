"""POST /v1/simulations: the rights a hypothetical career produces (no personal data).

The body is decoded by the same function as ``python -m cpa simulate``, so the HTTP API and the
CLI accept, refuse and answer exactly alike. Public, hence size limited and rate limited per
caller address.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec

from cpa.api.documented import public
from cpa.api.problems import UnsupportedMediaType
from cpa.auth import guard
from cpa.auth.errors import RateLimited
from cpa.auth.openapi import json_body, operation
from cpa.auth.ratelimit import RateLimiter
from cpa.simulation.models import Rights, Scenario
from cpa.simulation.service import simulate_json

SIMULATION_BODY_MAX_BYTES = 64 * 1024
SIMULATIONS_PER_MINUTE = 120
_limiter = RateLimiter(window_s=60)
_SCENARIO, _SCENARIO_SCHEMAS = json_body(
    Scenario,
    description=(
        f"A hypothetical career (docs/simulation.md), at most {SIMULATION_BODY_MAX_BYTES} "
        "bytes: no personal data."
    ),
)


def _require_json(request: Request[Any, Any, Any]) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(detail="send the scenario as application/json")


class SimulationController(Controller):
    path = "/v1/simulations"
    tags = ("simulations",)

    @post(
        "/",
        operation_id="createSimulation",
        summary="Simulate the rights of a hypothetical career",
        description=(
            "Takes a scenario (see the simulation contract: as_of, person, activity, exposures, "
            "engagements) and returns the CPF, CEC and C2P rights it produces, each entry with "
            "its rule, parameter date and legal reference. Items of the year of as_of are "
            "not in the balances: they come back as entries with projected: true and the date "
            "their campaign is expected by (credit_expected_on). Bad input (a year outside "
            "2015..as_of, a career before birth or before the youngest working age…) is "
            "refused as a whole with a 422 problem naming every field at fault. "
            f"At most {SIMULATIONS_PER_MINUTE} simulations a minute per address. The contract "
            "is docs/simulation.md."
        ),
        request_max_body_size=SIMULATION_BODY_MAX_BYTES,
        **public(
            UnsupportedMediaType,
            RateLimited,
            opt=guard.public(),
            # The body is encoded by simulate_json (shared with the CLI): its Struct, here.
            responses={
                200: ResponseSpec(Rights, generate_examples=False, description="The rights")
            },
            operation_class=operation(body=_SCENARIO, components=_SCENARIO_SCHEMAS),
        ),
        status_code=200,
        media_type="application/json",
    )
    async def simulate(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        client = request.client.host if request.client else "unknown"
        quota = _limiter.hit(client, SIMULATIONS_PER_MINUTE)
        if quota.exceeded:
            raise RateLimited(headers=quota.headers())
        _require_json(request)
        body = simulate_json(await request.body())
        return Response(body, media_type="application/json", headers=quota.headers())
