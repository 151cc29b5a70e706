"""What the fuzz run adds to the committed spec: only what no spec can say.

openapi/openapi.json documents every input (issue 15), and the run fuzzes it as committed,
with two additions for the run only: request-body objects are closed where their Struct
forbids unknown fields (``additionalProperties: false``, which Litestar's schemas do not say:
without it nearly every generated body is refused for an unknown field before the handler's
own code runs), and a few fields get values from the run's world (:func:`hints`: a demo
person's NIR, an amount within a demo balance, an expiry in the window from today), so that
positive cases reach the code past the first checks. Nothing else is changed.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import msgspec
import msgspec.inspect

from cpa.declarations.models import (
    ActivityDeclaration,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
)
from cpa.demo import DEMO_PERSONS
from cpa.linked_services import DEMO_CATALOGUE
from cpa.simulation.models import Scenario

HOLD_EXPIRY_DAYS = (1, 30, 365)  # a hold expires within a year (cpa.api.holds)
AMOUNT_CENTS_MAX = 10_000_00  # within a demo person's balance, sometimes beyond
POINTS_MAX = 200
NARROWER = {"minimum": max, "maximum": min}
READ_BY_HAND: tuple[Any, ...] = (
    Scenario,
    ActivityDeclaration,
    ExposureDeclaration,
    EngagementDeclaration,
    EngagementDecision,
)
"""The Structs of the bodies handlers read by hand (no ``data`` parameter to find them by)."""


def hints(today: dt.date) -> dict[tuple[str, str], dict[str, Any]]:
    """(schema, property) → the values of the run's world (demo persons, their balances,
    today), within what the spec says: positive cases then pass the first checks and carry
    their other fields (a NUL, a huge string) down to the database, as a partner's
    well-formed request does; negative cases still break each constraint."""
    soon = [f"{today + dt.timedelta(days=d)}T12:00:00Z" for d in HOLD_EXPIRY_DAYS]
    return {
        ("CreateHold", "amount_cents"): {"minimum": 1, "maximum": AMOUNT_CENTS_MAX},
        ("CreateHold", "expires_at"): {"enum": soon},
        ("PostHold", "amount_cents"): {"minimum": 1, "maximum": AMOUNT_CENTS_MAX},
        ("ConvertPoints", "points"): {"minimum": 1, "maximum": POINTS_MAX},
        ("LookupRequest", "nir"): {"enum": [person.nir for person in DEMO_PERSONS]},
        ("NewLink", "service_id"): {"enum": [service.id for service in DEMO_CATALOGUE]},
    }


def for_the_run(spec: dict[str, Any], body_types: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The spec with closed request objects and the world's hints (see the module)."""
    spec = copy.deepcopy(spec)
    _close(spec, body_types)
    _hint(spec, hints(today))
    return spec


def _hint(spec: dict[str, Any], found: dict[tuple[str, str], dict[str, Any]]) -> None:
    schemas = spec["components"]["schemas"]
    for (name, field), constraint in found.items():
        schema = schemas[name]["properties"][field]
        for key, value in constraint.items():  # within what the spec says itself
            if key in schema and key in NARROWER:
                schema[key] = NARROWER[key](schema[key], value)
            else:
                schema.setdefault(key, value)


def _close(spec: dict[str, Any], body_types: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    closed = _closed_structs([*body_types.values(), *READ_BY_HAND])
    for name, schema in schemas.items():
        if name in closed and "additionalProperties" not in schema:
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
