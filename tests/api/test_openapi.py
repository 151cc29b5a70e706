"""The committed OpenAPI document is the one the app generates (`make openapi`)."""

from pathlib import Path
from typing import Any

import msgspec

from cpa.app import create_app
from cpa.auth import guard
from cpa.auth.advisor import PURPOSES
from cpa.auth.scopes import SCOPE_WORDS, SCOPES
from cpa.config import Settings
from cpa.declarations import BATCH_LINES_MAX
from cpa.ledger.holds import HOLD_AMOUNT_MAX_CENTS, HOLD_LIFETIME_MAX
from cpa.rules.c2p import PART_TIME_REDUCTION_MAX_BP, PART_TIME_REDUCTION_MIN_BP
from cpa.text import REFERENCE_LENGTH_MAX

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_spec_matches_the_app(settings: Settings) -> None:
    generated = create_app(settings).openapi_schema.to_schema()
    committed = msgspec.json.decode(SPEC.read_bytes())
    assert committed == msgspec.json.decode(msgspec.json.encode(generated)), (
        "openapi/openapi.json is stale: run `make openapi`"
    )


METHODS = ("get", "put", "post", "delete", "patch")


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = msgspec.json.decode(SPEC.read_bytes())
    return spec


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in _spec()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = _spec()["components"]["schemas"][name]
    return schema


def test_the_oauth2_scheme_names_both_flows_and_every_scope() -> None:
    scheme = _spec()["components"]["securitySchemes"]["oauth2"]
    flows = scheme["flows"]
    assert flows["authorizationCode"]["authorizationUrl"] == "/oauth/authorize"
    assert flows["authorizationCode"]["tokenUrl"] == flows["clientCredentials"]["tokenUrl"]
    granted = {**flows["authorizationCode"]["scopes"], **flows["clientCredentials"]["scopes"]}
    assert set(granted) == set(SCOPES)
    assert all(granted[scope] == SCOPE_WORDS[scope]["en"] for scope in SCOPES)


def test_each_guarded_operation_states_the_scopes_its_guard_requires(settings: Settings) -> None:
    operations = {op["operationId"]: op for _, _, op in _operations()}
    for route in create_app(settings).routes:
        for handler in getattr(route, "route_handlers", []):
            declared = guard._declared(handler)
            if declared is None or not isinstance(handler.operation_id, str):
                continue
            security = operations[handler.operation_id]["security"]
            assert security == [{"oauth2": sorted(declared["scopes"])}], handler.operation_id


def test_errors_are_documented_as_they_are_sent() -> None:
    """No Litestar default ({status_code, detail, extra}, never sent); the API's errors are
    problem documents, the OAuth endpoints' RFC 6749 bodies; no JSON typed as a bare string."""
    for path, method, operation in _operations():
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            for media_type, body in content.items():
                schema = body.get("schema", {})
                assert "status_code" not in schema.get("properties", {}), (path, status)
                if media_type.endswith("json"):
                    assert schema.get("type") != "string" and schema, (path, method, status)
            if path.startswith("/v1/") and int(status) >= 400 and content:
                assert list(content) == ["application/problem+json"], (path, method, status)
                ref = content["application/problem+json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Problem", (path, method, status)
            if path.startswith("/oauth/") and int(status) >= 400 and "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/OAuthError", (path, method, status)


def test_bodies_read_by_hand_are_documented() -> None:
    operations = {op["operationId"]: op for _, _, op in _operations()}
    for operation_id in ("declareActivities", "declareExposures", "declareEngagements",
                         "decideEngagements", "createSimulation"):  # fmt: skip
        assert "application/json" in operations[operation_id]["requestBody"]["content"]
    for operation_id in ("postToken", "postIntrospect", "postRevoke",
                         "postPushedAuthorizationRequest", "postAuthorize"):  # fmt: skip
        content = operations[operation_id]["requestBody"]["content"]
        assert list(content) == ["application/x-www-form-urlencoded"], operation_id
    authorize = {p["name"] for p in operations["getAuthorize"]["parameters"]}
    assert {"client_id", "redirect_uri", "scope", "state", "code_challenge"} <= authorize
    jwks = operations["getJwks"]["responses"]["200"]["content"]
    assert list(jwks) == ["application/jwk-set+json"]


def test_limits_are_stated_from_the_constants_the_code_uses() -> None:
    hold = _schema("CreateHold")["properties"]
    assert (hold["amount_cents"]["minimum"], hold["amount_cents"]["maximum"]) == (
        1,
        HOLD_AMOUNT_MAX_CENTS,
    )
    assert hold["training_reference"]["maxLength"] == REFERENCE_LENGTH_MAX
    assert f"at most {HOLD_LIFETIME_MAX.days} days" in hold["expires_at"]["description"]
    lookup = _schema("LookupRequest")["properties"]
    assert lookup["purpose"]["enum"] == list(PURPOSES)
    conversion = _schema("ConvertPoints")["properties"]["reduction_basis_points"]
    assert (conversion["minimum"], conversion["maximum"]) == (
        PART_TIME_REDUCTION_MIN_BP,
        PART_TIME_REDUCTION_MAX_BP,
    )
    operations = {op["operationId"]: op for _, _, op in _operations()}
    batch = operations["declareActivities"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["maxItems"] == BATCH_LINES_MAX
