"""Bad input of every kind gets an RFC 9457 problem, never a 500."""

from __future__ import annotations

import httpx
import pytest

PROBLEM = "application/problem+json"
SCENARIO = b'{"as_of": "2026-11-25", "person": {"birth_date": "1980-05-01"}, "activity": []}'


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:cpa:problem:{slug}"
    assert body["title"]
    return body


async def test_invalid_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/simulations", content=b'{"as_of": ', headers={"content-type": "application/json"}
    )
    body = _assert_problem(response, 422, "invalid-input")
    assert "JSON" in str(body["detail"]) or "json" in str(body["detail"])


async def test_wrong_content_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/simulations", content=SCENARIO, headers={"content-type": "text/plain"}
    )
    _assert_problem(response, 415, "unsupported-media-type")


async def test_oversized_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/simulations",
        content=b'{"pad": "' + b"x" * 200_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    _assert_problem(response, 413, "body-too-large")


async def test_unknown_field_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/simulations",
        content=b'{"as_of": "2026-11-25", "person": {"birth_date": "1980-05-01"}, "x": 1}',
        headers={"content-type": "application/json"},
    )
    body = _assert_problem(response, 422, "invalid-input")
    assert body["errors"]


@pytest.mark.parametrize("path", ["/nope", "/v1/nothing/here", "/health"])
async def test_unknown_route(client: httpx.AsyncClient, path: str) -> None:
    _assert_problem(await client.get(path), 404, "not-found")


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health/ready")
    _assert_problem(response, 405, "method-not-allowed")
