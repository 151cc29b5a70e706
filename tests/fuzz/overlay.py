"""Inputs the committed spec does not describe yet, so that the fuzzer sends them.

openapi/openapi.json is what the app generates; some handlers read their body by hand (the
OAuth forms, the declaration batches, the simulation scenario) and the spec shows no request
body for them, so schemathesis would only ever send them an empty POST. Until the spec
carries them (issue 15), the run adds them here: each addition applies only to an operation
whose committed spec has no request body (or parameters) of its own, and is built from the
same Structs the handlers decode, never a second copy of them. Request-body objects are
closed where their Struct forbids unknown fields, and a few fields get the constraint their
handler checks by hand (:func:`hints`). Nothing else is changed.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import msgspec
import msgspec.inspect

from cpa.auth.advisor import PURPOSES
from cpa.auth.scopes import KIND_GRANT_TYPES
from cpa.declarations.models import (
    ActivityDeclaration,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
)
from cpa.demo import DEMO_PERSONS
from cpa.linked_services import DEMO_CATALOGUE
from cpa.simulation.models import Scenario

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
PREFIX = "FuzzInput"
HOLD_EXPIRY_DAYS = (1, 30, 365)  # a hold expires within a year (cpa.api.holds)
AMOUNT_CENTS_MAX = 10_000_00  # within a demo person's balance, sometimes beyond
POINTS_MAX = 200

# The fields RFC 6749, 7009, 7662, 7636, 9126 and our login/consent page read; all optional,
# so that every combination (and every absence) is tried.
TOKEN_FIELDS = (
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
    "client_id", "client_secret", "client_assertion", "client_assertion_type",
)  # fmt: skip
TOKEN_HINT_FIELDS = ("token", "token_type_hint", "client_id", "client_secret")
AUTHORIZE_FIELDS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method", "request_uri", "lang",
)  # fmt: skip
PAGE_FIELDS = (*AUTHORIZE_FIELDS, "csrf", "step", "nir", "password", "ticket", "decision")
PAR_FIELDS = (*AUTHORIZE_FIELDS, "client_secret", "client_assertion", "client_assertion_type")

GRANT_TYPES = sorted({grant for grants in KIND_GRANT_TYPES.values() for grant in grants})
PROTOCOL_VALUES: dict[str, list[str]] = {
    "grant_type": GRANT_TYPES,
    "response_type": ["code"],
    "code_challenge_method": ["S256"],
    "token_type_hint": ["access_token", "refresh_token"],
    "client_assertion_type": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
}

FORMS: dict[str, tuple[str, ...]] = {
    "postToken": TOKEN_FIELDS,
    "postIntrospect": TOKEN_HINT_FIELDS,
    "postRevoke": TOKEN_HINT_FIELDS,
    "postPushedAuthorizationRequest": PAR_FIELDS,
    "postAuthorize": PAGE_FIELDS,
}
QUERIES: dict[str, tuple[str, ...]] = {"getAuthorize": AUTHORIZE_FIELDS}
JSON_BODIES: dict[str, Any] = {
    "createSimulation": Scenario,
    "declareActivities": list[ActivityDeclaration],
    "declareExposures": list[ExposureDeclaration],
    "declareEngagements": list[EngagementDeclaration],
    "decideEngagements": list[EngagementDecision],
}


def _field(name: str) -> dict[str, Any]:
    """A form field: a string, or one of the protocol's values where the server checks the
    field before any other (a random ``grant_type`` ends every token request there)."""
    if name in PROTOCOL_VALUES:
        return {"type": "string", "enum": list(PROTOCOL_VALUES[name])}
    return {"type": "string"}


def _form(fields: tuple[str, ...]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {name: _field(name) for name in fields},
        "additionalProperties": {"type": "string"},
    }
    return {"required": False, "content": {FORM: {"schema": schema}}}


def _json(type_: Any, components: dict[str, Any]) -> dict[str, Any]:
    # Prefixed names: an input Struct may share its name with an output one of the spec.
    (schema,), defs = msgspec.json.schema_components(
        [type_], ref_template="#/components/schemas/" + PREFIX + "{name}"
    )
    for name, definition in defs.items():
        components[PREFIX + name] = definition
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _query(fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": False, "schema": _field(name)} for name in fields
    ]


def hints(today: dt.date) -> dict[tuple[str, str], dict[str, Any]]:
    """(schema, property) → the constraint a handler checks by hand and the spec does not
    show, each taken from the code or the demo data: positive cases then pass the first
    checks and carry their other fields (a NUL, a huge string) down to the database, as a
    partner's well-formed request does; negative cases still break each constraint."""
    soon = [f"{today + dt.timedelta(days=d)}T12:00:00Z" for d in HOLD_EXPIRY_DAYS]
    return {
        ("CreateHold", "amount_cents"): {"minimum": 1, "maximum": AMOUNT_CENTS_MAX},
        ("CreateHold", "expires_at"): {"enum": soon},
        ("PostHold", "amount_cents"): {"minimum": 1, "maximum": AMOUNT_CENTS_MAX},
        ("ConvertPoints", "points"): {"minimum": 1, "maximum": POINTS_MAX},
        ("LookupRequest", "nir"): {"enum": [person.nir for person in DEMO_PERSONS]},
        ("LookupRequest", "purpose"): {"enum": list(PURPOSES)},
        ("NewLink", "service_id"): {"enum": [service.id for service in DEMO_CATALOGUE]},
    }


def with_inputs(
    spec: dict[str, Any], body_types: dict[str, Any], today: dt.date
) -> tuple[dict[str, Any], list[str]]:
    """The spec with the missing inputs added, and the request-body objects whose Struct
    forbids unknown fields closed (``additionalProperties: false``, which the generated spec
    does not say: without it nearly every generated body is refused for an unknown field
    before the handler's own code runs); the operationIds that got an input."""
    spec = copy.deepcopy(spec)
    _close(spec, body_types)
    _hint(spec, hints(today))
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    added = []
    for operation in _operations(spec):
        operation_id = operation.get("operationId")
        if operation_id in QUERIES and not operation.get("parameters"):
            operation["parameters"] = _query(QUERIES[operation_id])
        elif "requestBody" in operation:
            continue
        elif operation_id in FORMS:
            operation["requestBody"] = _form(FORMS[operation_id])
        elif operation_id in JSON_BODIES:
            operation["requestBody"] = _json(JSON_BODIES[operation_id], components)
        else:
            continue
        added.append(str(operation_id))
    return spec, added


def _hint(spec: dict[str, Any], found: dict[tuple[str, str], dict[str, Any]]) -> None:
    schemas = spec["components"]["schemas"]
    for (name, field), constraint in found.items():
        for key, value in constraint.items():  # what the spec says itself comes first
            schemas[name]["properties"][field].setdefault(key, value)


def _close(spec: dict[str, Any], body_types: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    named = {**body_types, **JSON_BODIES}
    closed = _closed_structs(list(named.values()))
    for name, schema in schemas.items():
        if name.removeprefix(PREFIX) in closed and "additionalProperties" not in schema:
            schema["additionalProperties"] = False


def _closed_structs(types: list[Any]) -> set[str]:
    """Names of the Structs, reachable from ``types``, that refuse unknown fields."""
    closed: set[str] = set()
    seen: set[int] = set()
    pending = list(msgspec.inspect.multi_type_info(types))
    while pending:
        info = pending.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            if info.forbid_unknown_fields:
                closed.add(info.cls.__name__)
            pending += [f.type for f in info.fields]
        else:  # a container, a union, a mapping: what it holds
            for name in info.__struct_fields__:
                value = getattr(info, name)
                values = value if isinstance(value, tuple) else (value,)
                pending += [v for v in values if isinstance(v, msgspec.inspect.Type)]
    return closed


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("get", "post", "put", "patch", "delete")
    return [op for item in spec["paths"].values() for m, op in item.items() if m in methods]
