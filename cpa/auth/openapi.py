"""What the OpenAPI document says of an operation beyond its handler's signature.

Some handlers read their input by hand (the OAuth forms and the authorize query, the
declaration batches, the simulation scenario): Litestar sees no body and no parameter there.
Such a handler declares them with :func:`operation` (its route's ``operation_class``), built
from the same Structs and constants the handler decodes with. Every documented operation also
answers only what cpa sends: Litestar's default 400 (``{status_code, detail, extra}``, which
cpa never sends: errors are RFC 9457 problems or RFC 6749 error bodies) is left out, the body
problems (400, 413) are left out of an operation without a request body, and an operation with
path or query parameters can get the HTTP server's 414 (a request line too long, refused
before cpa).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
from litestar.openapi.spec import Operation

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
COMPONENTS_REF = "#/components/schemas/{name}"
PROBLEM_MEDIA_TYPE = "application/problem+json"
BODY_STATUSES = ("400", "413", "415")
"""Problems only an operation with a request body can answer."""
URI_TOO_LONG = {
    "description": "URI too long: refused by the HTTP server before cpa, without a body."
}


class DocumentedOperation(Operation):
    """An operation with what its route declares beyond its signature (class attributes set
    by :func:`operation`)."""

    declared_body: ClassVar[dict[str, Any] | None] = None
    declared_query: ClassVar[tuple[dict[str, Any], ...]] = ()
    declared_components: ClassVar[dict[str, Any]] = {}

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        if self.declared_body is not None:
            schema["requestBody"] = copy.deepcopy(self.declared_body)
        if self.declared_query:
            schema["parameters"] = [*schema.get("parameters", []), *self.declared_query]
        responses: dict[str, Any] = schema.get("responses", {})
        for status, response in list(responses.items()):
            body_only = status in BODY_STATUSES and PROBLEM_MEDIA_TYPE in response.get(
                "content", {}
            )
            if (body_only and "requestBody" not in schema) or _litestar_default(response):
                del responses[status]
        if any(p.get("in") in ("path", "query") for p in schema.get("parameters", [])):
            responses.setdefault("414", dict(URI_TOO_LONG))
        schema["responses"] = dict(sorted(responses.items()))
        return schema


def _litestar_default(response: dict[str, Any]) -> bool:
    """Litestar's own error response (its ``ValidationException``'s), never what cpa sends."""
    schema = response.get("content", {}).get(JSON_MEDIA_TYPE, {}).get("schema", {})
    variants = schema.get("oneOf", [schema])
    return any("status_code" in v.get("properties", {}) for v in variants)


def operation(
    *,
    body: dict[str, Any] | None = None,
    query: Sequence[dict[str, Any]] = (),
    components: dict[str, Any] | None = None,
) -> type[Operation]:
    """A route's ``operation_class``: its request body, hand-read query parameters and the
    component schemas they refer to."""
    return type(
        "DocumentedOperation",
        (DocumentedOperation,),
        {
            "declared_body": body,
            "declared_query": tuple(query),
            "declared_components": components or {},
        },
    )


def json_schema(type_: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``type_``'s JSON Schema, referring to components, and those components."""
    (schema,), components = msgspec.json.schema_components([type_], ref_template=COMPONENTS_REF)
    return schema, components


def json_body(
    type_: Any, description: str, media_types: Sequence[str] = (JSON_MEDIA_TYPE,)
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A required request body decoded into ``type_``, and its component schemas."""
    schema, components = json_schema(type_)
    content = {media_type: {"schema": schema} for media_type in media_types}
    return {"required": True, "description": description, "content": content}, components


def form_body(fields: dict[str, dict[str, Any]], required: Sequence[str] = ()) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body: ``fields`` name → JSON Schema."""
    schema: dict[str, Any] = {"type": "object", "properties": fields}
    if required:
        schema["required"] = list(required)
    return {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": schema}}}


def query_parameters(
    fields: dict[str, dict[str, Any]], required: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Query parameters read by hand: ``fields`` name → JSON Schema (with its description)."""
    parameters = []
    for name, schema in fields.items():
        schema = dict(schema)
        description = schema.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
