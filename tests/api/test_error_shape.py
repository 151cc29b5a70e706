"""Errors that explain themselves, in one shape (issue 15 point 6): every failing field at once,
each with its JSONPath, in words a partner's developer can act on."""

from __future__ import annotations

from typing import Any

import httpx

from cpa.ledger.holds import HOLD_AMOUNT_MAX_CENTS
from cpa.text import REFERENCE_LENGTH_MAX
from tests.api.conftest import World
from tests.api.test_ledger_holds import HOLDS, hold_body


def _errors(response: httpx.Response) -> dict[str, str]:
    """The problem's errors, field → message (a 422 problem document)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return {error["field"]: error["message"] for error in body["errors"]}


async def _hold(world: World, api: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await api.post(HOLDS, json=body, headers=world.bearer(world.alice.tokens["training"]))


async def test_an_amount_sent_as_a_string_is_named_by_its_field(
    world: World, api: httpx.AsyncClient
) -> None:
    errors = _errors(await _hold(world, api, hold_body(amount_cents="100")))  # type: ignore[arg-type]
    assert list(errors) == ["$.amount_cents"], errors
    assert "int" in errors["$.amount_cents"]


async def test_a_fractional_amount_is_named_by_its_field(
    world: World, api: httpx.AsyncClient
) -> None:
    errors = _errors(await _hold(world, api, hold_body(amount_cents=1.5)))  # type: ignore[arg-type]
    assert list(errors) == ["$.amount_cents"], errors


async def test_every_failing_field_at_once(world: World, api: httpx.AsyncClient) -> None:
    body = {"amount_cents": "100", "training_reference": 7, "expires_at": "soon", "extra": 1}
    errors = _errors(await _hold(world, api, body))
    assert set(errors) == {
        "$.amount_cents",
        "$.training_reference",
        "$.expires_at",
        "$.extra",
    }, errors


async def test_an_amount_above_the_maximum_says_so(world: World, api: httpx.AsyncClient) -> None:
    errors = _errors(await _hold(world, api, hold_body(HOLD_AMOUNT_MAX_CENTS + 1)))
    assert errors["$.amount_cents"] == f"too large: at most {HOLD_AMOUNT_MAX_CENTS}", errors


async def test_a_reference_one_character_too_long_says_too_long(
    world: World, api: httpx.AsyncClient
) -> None:
    long = "R" * (REFERENCE_LENGTH_MAX + 1)
    errors = _errors(await _hold(world, api, hold_body(training_reference=long)))
    assert errors == {
        "$.training_reference": f"too long: at most {REFERENCE_LENGTH_MAX} characters"
    }, errors


async def test_domain_limits_are_reported_together(world: World, api: httpx.AsyncClient) -> None:
    """A blank reference and an expiry beyond the window: both in the one answer."""
    body = hold_body(training_reference="  ", expires_at="2100-01-01T00:00:00Z")
    errors = _errors(await _hold(world, api, body))
    assert set(errors) == {"$.training_reference", "$.expires_at"}, errors
