"""`python -m cpa simulate` and `POST /v1/simulations` agree on every scenario."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import pytest

from cpa.auth.ratelimit import RateLimiter
from tests.support.processes import PROJECT, cpa_env
from tests.unit.simulation.test_simulation import BAD, EXAMPLE, IN_PROGRESS, _with

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("example of the contract", EXAMPLE),
    (
        "hours era converted",
        _with(
            activity=[
                {"year": 2016, "kind": "employee", "worked_hours": 1607},
                {"year": 2017, "kind": "employee", "worked_hours": 800},
                {"year": 2018, "kind": "employee", "worked_hours": 1607},
                {"year": 2019, "kind": "employee", "worked_hours": 1607},
            ]
        ),
    ),
    (
        "as of 2018: hours stay hours",
        _with(
            as_of="2018-06-01",
            activity=[
                {"year": 2016, "kind": "employee", "worked_hours": 1607},
            ],
            exposures=[],
            engagements=[],
        ),
    ),
    (
        "retired in 2022",
        _with(person={"birth_date": "1958-01-01", "full_rate_retirement_on": "2022-07-01"}),
    ),
    ("empty career", {"as_of": "2026-11-25", "person": {"birth_date": "2000-01-01"}}),
    ("year in progress projected", IN_PROGRESS),
]
BAD_SAMPLE = [
    b
    for b in BAD
    if b[0]
    in {
        "not JSON",
        "unknown field",
        "wrong type",
        "unknown kind",
        "year after as_of",
        "negative count",
        "activity before birth",
        "exposure contract ending before 15",
    }
]


async def _cli(raw: bytes) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cpa",
        "simulate",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=PROJECT,
        env=cpa_env(),
    )
    stdout, stderr = await process.communicate(raw)
    return process.returncode or 0, stdout, stderr


def _raw(scenario: bytes | dict[str, Any]) -> bytes:
    return scenario if isinstance(scenario, bytes) else json.dumps(scenario).encode()


async def _post(client: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    return await client.post(
        "/v1/simulations", content=raw, headers={"content-type": "application/json"}
    )


@pytest.mark.parametrize(("name", "scenario"), GOOD, ids=[g[0] for g in GOOD])
async def test_cli_and_http_give_the_same_rights(
    client: httpx.AsyncClient, name: str, scenario: dict[str, Any]
) -> None:
    raw = _raw(scenario)
    status, stdout, _ = await _cli(raw)
    response = await _post(client, raw)
    assert status == 0
    assert response.status_code == 200, response.text
    assert json.loads(stdout) == response.json()
    assert response.headers["ratelimit-limit"]


@pytest.mark.parametrize(("name", "scenario", "field"), BAD_SAMPLE, ids=[b[0] for b in BAD_SAMPLE])
async def test_cli_and_http_refuse_alike_and_print_nothing(
    client: httpx.AsyncClient, name: str, scenario: bytes | dict[str, Any], field: str
) -> None:
    raw = _raw(scenario)
    status, stdout, stderr = await _cli(raw)
    response = await _post(client, raw)
    assert status == 2 and stdout == b""
    cli_problem = json.loads(stderr.splitlines()[-1])
    http_problem = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    http_problem.pop("instance", None)
    assert cli_problem == http_problem
    assert http_problem["errors"][0]["field"] == field


async def test_year_in_progress_over_http(client: httpx.AsyncClient) -> None:
    """POST /v1/simulations in November: this year's work is shown as projected entries,
    expected in the campaign of next spring, and kept out of the balances."""
    response = await _post(client, _raw(IN_PROGRESS))
    assert response.status_code == 200, response.text
    rights = response.json()
    assert rights["cpf"]["balance_cents"] == 50000  # 2025 only
    projected = [e for e in rights["cpf"]["entries"] if e.get("projected")]
    assert [(e["year"], e["amount_cents"], e["credit_expected_on"]) for e in projected] == [
        (2026, 50000, "2027-06-15")
    ]
    assert rights["cec"]["entries"][0]["projected"] is True
    assert rights["c2p"]["entries"][0]["projected"] is True


async def test_impossible_career_over_http(client: httpx.AsyncClient) -> None:
    """Work before birth or before 15 (CT L4153-1 1°) is refused as a whole, field named."""
    scenario = _with(
        person={"birth_date": "2005-03-01"},
        activity=[
            {"year": 2019, "kind": "employee", "worked_hours": 200},
            {"year": 2020, "kind": "employee", "worked_hours": 200},
        ],
        exposures=[],
        engagements=[],
    )
    response = await _post(client, _raw(scenario))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["$.activity[0].year"]
    assert "before the person is 15" in errors[0]["message"]


async def test_no_hours_left_after_conversion_over_http(client: httpx.AsyncClient) -> None:
    """From 2019-01-01 the 2015–2018 hours are euros (décrets 2018-1153, 2018-1349)."""
    scenario = {
        "as_of": "2019-01-01",
        "person": {"birth_date": "1980-01-01"},
        "activity": [{"year": 2018, "kind": "employee", "worked_hours": 1607}],
        "engagements": [{"year": 2018, "activity": "military_reserve", "days": 90}],
    }
    rights = (await _post(client, _raw(scenario))).json()
    assert (rights["cpf"]["hours_balance"], rights["cpf"]["balance_cents"]) == (0, 24 * 1500)
    assert (rights["cec"]["hours_balance"], rights["cec"]["balance_cents"]) == (0, 20 * 1200)


async def test_simulations_are_rate_limited(client: httpx.AsyncClient) -> None:
    """Past the per-address limit: 429 with Retry-After and the RateLimit headers."""
    from cpa.api import simulations

    saved = simulations.SIMULATIONS_PER_MINUTE
    simulations.SIMULATIONS_PER_MINUTE = 2
    simulations._limiter = RateLimiter(window_s=60)
    try:
        raw = _raw(EXAMPLE)
        assert (await _post(client, raw)).status_code == 200
        assert (await _post(client, raw)).status_code == 200
        refused = await _post(client, raw)
        assert refused.status_code == 429
        assert refused.headers["retry-after"]
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.json()["type"] == "urn:cpa:problem:too-many-requests"
    finally:
        simulations.SIMULATIONS_PER_MINUTE = saved
        simulations._limiter = RateLimiter(window_s=60)
