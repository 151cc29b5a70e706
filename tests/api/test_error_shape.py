"""Errors that explain themselves, in one shape (issue 15 point 6): every failing field at once,
each with its JSONPath, in words a partner's developer can act on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from cpa.ledger.holds import HOLD_AMOUNT_MAX_CENTS
from cpa.text import REFERENCE_LENGTH_MAX
from tests.api.conftest import TOKEN_URL, World
from tests.api.test_ledger_holds import HOLDS, hold_body
from tests.auth import support


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


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({}, None, 400, None),
        ({"grant_type": "telepathy"}, ("nobody", "nothing"), None, None),
        ({"grant_type": "client_credentials"}, ("nobody", "nothing"), 401, "invalid_client"),
    ],
    ids=["no grant type", "unknown grant type", "unknown client"],
)
async def test_oauth_errors_carry_a_description(
    api: httpx.AsyncClient,
    form: dict[str, str],
    auth: tuple[str, str] | None,
    status: int | None,
    error: str | None,
) -> None:
    answer = await api.post("/oauth/token", data=form, auth=auth)
    body = answer.json()
    assert answer.status_code == (status or answer.status_code) and answer.status_code >= 400
    assert body["error"] == (error or body["error"])
    assert body.get("error_description"), body


async def test_invalid_grant_carries_a_description(world: World) -> None:
    """A partner's developer learns why its code was refused, not only that it was."""
    partner = world.clients["training_body"]
    credentials = {"client_id": partner["client_id"], "client_secret": partner["key"]}
    auth = PrivateKeyJWT(TOKEN_URL, alg="ES256")
    async with support.oauth(world.app, credentials, token_endpoint_auth_method=auth) as oauth:
        with pytest.raises(OAuthError) as refused:
            await oauth.fetch_token(
                TOKEN_URL,
                grant_type="authorization_code",
                code="not-a-code",
                redirect_uri=support.REDIRECT_URI,
                code_verifier="v" * 43,
            )
    assert refused.value.error == "invalid_grant"
    assert refused.value.description


@pytest.mark.parametrize("key", ["00", "96"])
async def test_a_wrong_nir_key_does_not_give_the_right_one(
    world: World, api: httpx.AsyncClient, key: str
) -> None:
    right = world.alice.nir[13:]
    wrong = world.alice.nir[:13] + (key if key != right else "01")
    body = {"nir": wrong, "advisor_id": "adv-1", "purpose": "training_funding"}
    answer = await api.post(
        "/v1/advisor/lookups", json=body, headers=world.bearer(world.machine["advisor"])
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:cpa:problem:invalid-nir"
    assert "control key" in problem["detail"]
    assert right not in problem["detail"], problem


async def test_the_french_error_page_speaks_french(api: httpx.AsyncClient) -> None:
    """Its technical detail (a protocol error, in English) is marked as English; the page's
    own words are French, with one charset."""
    page = await api.get("/oauth/authorize", params={"client_id": "nobody", "lang": "fr"})
    assert page.status_code == 400
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="fr">' in page.text
    assert 'Détail technique (en anglais) : <code lang="en">' in page.text


async def test_an_expired_form_is_told_in_french(api: httpx.AsyncClient) -> None:
    page = await api.post("/oauth/authorize", data={"lang": "fr", "step": "consent"})
    assert page.status_code == 403
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Le formulaire a expiré" in page.text
    assert "start again" not in page.text


async def test_the_simulation_speaks_the_declarations_words(api: httpx.AsyncClient) -> None:
    """``worked_centihours`` (the declarations' name and unit) gives what the older
    ``worked_hours`` gives; both at once is refused, naming the older one."""

    def scenario(**time: float) -> dict[str, Any]:
        item = {"year": 2020, "kind": "employee", **time}
        return {"as_of": "2024-06-01", "person": {"birth_date": "1980-05-01"}, "activity": [item]}

    centi = await api.post("/v1/simulations", json=scenario(worked_centihours=64280))
    hours = await api.post("/v1/simulations", json=scenario(worked_hours=642.8))
    assert centi.status_code == hours.status_code == 200, centi.text
    assert centi.json()["cpf"] == hours.json()["cpf"]
    both = await api.post("/v1/simulations", json=scenario(worked_centihours=1, worked_hours=1))
    assert _errors(both) == {"$.activity[0].worked_hours": "give worked_centihours only"}
