"""Bad input found by hand and by schemathesis (issue 10, defect 7): each is a 4xx problem,
never a 500, and no row data reaches the log."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from tests.api.conftest import World
from tests.api.test_ledger_holds import HOLDS, hold_body

PROBLEM = "urn:cpa:problem:"
NUL = "a\u0000b"
INT64_PAST = 9223372036854775808
DEEP = 500_000


def _problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    if slug is not None:
        assert body["type"] == PROBLEM + slug, body
    return body


def _names(body: dict[str, object], field: str) -> bool:
    return field in str(body.get("errors", "")) or field in str(body.get("detail", ""))


async def test_nul_in_hold_reference(world: World, api: httpx.AsyncClient) -> None:
    training = world.bearer(world.alice.tokens["training"])
    response = await api.post(HOLDS, json=hold_body(training_reference=NUL), headers=training)
    assert _names(_problem(response, 422, "invalid-input"), "training_reference")


async def test_nul_in_service_link(world: World, api: httpx.AsyncClient) -> None:
    portal = world.bearer(world.alice.tokens["portal"])
    response = await api.post("/v1/me/services/links", json={"service_id": NUL}, headers=portal)
    assert _names(_problem(response, 422, "invalid-input"), "service_id")


async def test_nul_in_c2p_conversion(world: World, api: httpx.AsyncClient) -> None:
    portal = {**world.bearer(world.alice.tokens["portal"]), "Idempotency-Key": "nul-1"}
    body = {"use": "training", "points": 8, "training_reference": NUL}
    response = await api.post("/v1/me/c2p/conversions", json=body, headers=portal)
    assert _names(_problem(response, 422, "invalid-input"), "training_reference")


@pytest.mark.parametrize("advisor_id", [NUL, "", "x" * 1_000_000], ids=["nul", "empty", "1MB"])
async def test_bad_advisor_id(world: World, api: httpx.AsyncClient, advisor_id: str) -> None:
    body = {"nir": world.alice.nir, "advisor_id": advisor_id, "purpose": "training_funding"}
    with capture_logs() as logs:
        response = await api.post(
            "/v1/advisor/lookups", json=body, headers=world.bearer(world.machine["advisor"])
        )
    assert _names(_problem(response, 422, "invalid-input"), "advisor_id")
    assert "Failing row" not in str(logs)


async def test_nul_in_exposure_refuses_its_line_alone(
    world: World, api: httpx.AsyncClient, wdb: asyncpg.Connection
) -> None:
    def line(contract_ref: str) -> dict[str, object]:
        return {
            "person_id": str(world.bob.id),
            "year": 2023,
            "contract_ref": contract_ref,
            "contract_start": "2023-01-01",
            "contract_end": "2023-12-31",
            "factors": {"night_work": 130},
        }

    response = await api.post(
        "/v1/declarations/exposures",
        json=[line("N-1"), line(NUL)],
        headers=world.bearer(world.machine["operator"]),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert "contract_ref" in str(result["lines"][1])


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/me/entries/{INT64_PAST}/explanation",
        f"/v1/me/access-log?before={INT64_PAST}",
        f"/v1/me/entries/-{INT64_PAST}/explanation",
    ],
)
async def test_integers_beyond_int64(world: World, api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path, headers=world.bearer(world.alice.tokens["portal"]))
    assert 400 <= response.status_code < 500, response.text


async def test_deeply_nested_hold_body(world: World, api: httpx.AsyncClient) -> None:
    body = b"[" * DEEP + b"]" * DEEP
    response = await api.post(
        HOLDS,
        content=body,
        headers={
            **world.bearer(world.alice.tokens["training"]),
            "content-type": "application/json",
        },
    )
    _problem(response, 400)


async def test_deeply_nested_declarations(world: World, api: httpx.AsyncClient) -> None:
    body = b"[" * DEEP + b"]" * DEEP
    response = await api.post(
        "/v1/declarations/activities",
        content=body,
        headers={
            **world.bearer(world.machine["operator"]),
            "content-type": "application/json",
        },
    )
    _problem(response, 400)


async def test_options_on_a_v1_route_is_answered_quietly(
    world: World, api: httpx.AsyncClient
) -> None:
    """No CORS preflight is served: OPTIONS answers 204 with the route's methods, no token
    needed (it says nothing of anyone's data), and logs no error."""
    with capture_logs() as logs:
        response = await api.options("/v1/me/account")
    assert response.status_code == 204, response.text
    assert "GET" in response.headers["allow"]
    assert "access-control-allow-origin" not in response.headers
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")], logs


async def test_personal_data_is_not_cached_nor_sniffed(
    world: World, api: httpx.AsyncClient
) -> None:
    portal = world.bearer(world.alice.tokens["portal"])
    for response in (
        await api.get("/v1/me/account", headers=portal),
        await api.get("/v1/me/account"),  # a 401 problem
        await api.get("/v1/me/entries/1/explanation", headers=portal),
    ):
        assert response.headers["cache-control"] == "no-store", response
        assert response.headers["x-content-type-options"] == "nosniff"
    health = await api.get("/health/ready")
    assert health.headers["x-content-type-options"] == "nosniff"
    missing = await api.get("/nope")
    assert missing.headers["x-content-type-options"] == "nosniff"


async def test_amount_beyond_int64_in_a_body(world: World, api: httpx.AsyncClient) -> None:
    training = world.bearer(world.alice.tokens["training"])
    response = await api.post(HOLDS, json=hold_body(amount_cents=2**64), headers=training)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        ("DELETE", "/v1/me/services/links/a%00b", "portal"),
        ("GET", "/v1/me/entries?cursor=a%00b", "portal"),
        ("GET", "/v1/advisor/persons/a%00b/account", "advisor"),
    ],
)
async def test_nul_in_paths_and_queries(
    world: World, api: httpx.AsyncClient, method: str, path: str, token: str
) -> None:
    bearer = world.machine["advisor"] if token == "advisor" else world.alice.tokens[token]
    response = await api.request(method, path, headers=world.bearer(bearer))
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("year", [0, 10_000])
async def test_exposure_year_out_of_any_calendar(api: httpx.AsyncClient, year: int) -> None:
    """Found by make fuzz: a year no date can hold is named, not a ValueError."""
    scenario = {
        "as_of": "2025-04-15",
        "person": {"birth_date": "1990-01-01"},
        "exposures": [{"year": year, "contract_start": "1999-01-01",
                       "contract_end": "2000-01-01", "factors": {}}],
    }  # fmt: skip
    body = _problem(await api.post("/v1/simulations", json=scenario), 422)
    assert _names(body, "$.exposures[0].year"), body


@pytest.mark.parametrize(
    "query",
    ["response_type=%C3%A9", "client_id=demo-portal&response_type=%C3%A9", "client_id=%00"],
)
async def test_authorize_parameters_outside_ascii(api: httpx.AsyncClient, query: str) -> None:
    """Found by make fuzz: Authlib refuses to build an error describing a non-ASCII value,
    and a NUL client id reached the database; both are a 400 page."""
    response = await api.get(f"/oauth/authorize?{query}")
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/par", "/oauth/introspect"])
@pytest.mark.parametrize("client_id", ["%00", "x" * 10_000, "%C3%A9"])
async def test_client_endpoints_with_unprintable_values(
    api: httpx.AsyncClient, endpoint: str, client_id: str
) -> None:
    """Found by make fuzz: NUL in a claimed client id, a non-ASCII response type (PAR)."""
    form = f"grant_type=client_credentials&response_type=%C3%A9&client_id={client_id}"
    response = await api.post(
        endpoint,
        content=form + "&client_secret=x&token=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] in ("invalid_request", "invalid_client"), response.text
