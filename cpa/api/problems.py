"""Every error the HTTP API answers is an RFC 9457 ``application/problem+json`` document.

Operating errors (``CpaError``) carry their own slug, status and detail. Framework errors are
mapped here: malformed JSON (400), validation (422, with the failing fields), unknown route
(404), wrong method (405), unsupported media type (415), body too large (413). Anything else is
a 500 whose body says nothing of the internals; the traceback goes to the log only — without
the row data PostgreSQL puts in an error's ``detail`` (``cpa.log`` strips it).

Three kinds of database error are not programmer errors, and answered without a traceback:
an outage (``cpa.db.outage``: 503 with ``Retry-After``, an RFC 6749 body on ``/oauth/*``,
logged once per outage), a violated constraint (``cpa.db.constraints``: its registered
problem, else 409/422), and a value PostgreSQL cannot store (a NUL character: 422). A body
nested deeper than the decoder's recursion limit is a 400.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.utils.scope.state import ScopeState

from cpa.api.wire import field_errors, refused
from cpa.auth.openapi import PROBLEM_MEDIA_TYPE
from cpa.db.constraints import refusal, unstorable
from cpa.db.outage import OUTAGE, RETRY_AFTER_S, is_outage
from cpa.errors import PROBLEM_TYPE_PREFIX, CpaError, Unavailable

log = structlog.get_logger(__name__)

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


def problem_response(
    body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=int(body["status"]),
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _generic(status: int, title: str, detail: str | None, path: str) -> dict[str, Any]:
    # Always a detail (the title when nothing more is known): the documented Problem has one.
    return {
        "type": PROBLEM_TYPE_PREFIX + _SLUGS.get(status, "error"),
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": path,
    }


def on_cpa_error(request: Request[Any, Any, Any], error: CpaError) -> Response[bytes]:
    log.info("request_refused", problem=error.slug, status=error.status)
    headers = error.extensions.pop("headers", None) if "headers" in error.extensions else None
    return problem_response(error.to_problem(request.url.path), headers)


def _field(key: str | None, source: str | None) -> str:
    if not key:
        return "$" if source == "body" else f"{source or 'request'}"
    return key if key.startswith("$") or source != "body" else f"$.{key}"


def _body_type(request: Request[Any, Any, Any]) -> type[msgspec.Struct] | None:
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or not data.is_subclass_of(msgspec.Struct):
        return None
    struct: type[msgspec.Struct] = data.annotation
    return struct


def _body_errors(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    """Every field of the request's JSON body its handler's Struct refuses (``cpa.api.wire``):
    Litestar's decoder names only the first."""
    struct = _body_type(request)
    body = ScopeState.from_scope(request.scope).body
    if struct is None or not isinstance(body, bytes):
        return []
    return field_errors(body, struct)


def on_validation(request: Request[Any, Any, Any], error: ValidationException) -> Response[bytes]:
    extra = error.extra if isinstance(error.extra, list) else []
    errors = [
        {"field": _field(item.get("key"), item.get("source")), "message": item.get("message", "")}
        for item in extra
        if isinstance(item, dict)
    ]
    if any(item.get("source") == "body" for item in extra if isinstance(item, dict)):
        errors = _body_errors(request) or errors
    detail = str(error.detail)
    if any(
        "malformed" in e["message"].lower() or "json is" in e["message"].lower() for e in errors
    ) or detail.lower().startswith("malformed"):
        body = _generic(
            400, "Malformed request body", "the body is not valid JSON", request.url.path
        )
        body["type"] = PROBLEM_TYPE_PREFIX + "malformed-body"
        return problem_response(body)
    if errors and errors[0]["field"].startswith("$"):
        return on_cpa_error(request, refused(errors, _body_type(request)))
    body = _generic(422, "Invalid input", detail, request.url.path)
    body["type"] = PROBLEM_TYPE_PREFIX + "invalid-input"
    body["errors"] = errors
    return problem_response(body)


def on_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    headers = dict(error.headers or {})
    detail: str | None
    if isinstance(error, MethodNotAllowedException):
        detail = f"{request.method} is not allowed on this route"
    elif isinstance(error, NotFoundException):
        detail = "no resource at this address"
    else:
        detail = str(error.detail) if error.detail else None
    title = {
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
        415: "Unsupported media type",
    }.get(status, str(error.detail) if status < 500 else "Internal error")
    if status >= 500:
        detail = None
    return problem_response(_generic(status, title, detail, request.url.path), headers or None)


OAUTH_PREFIX = "/oauth/"


class DatabaseDown(Unavailable):
    """The service is unavailable for a moment: retry shortly."""


class TooDeep(CpaError, slug="malformed-body", status=400):
    """The body nests too deep."""


class BodyTooLarge(CpaError, slug="body-too-large", status=413):
    """Request body too large (each route's limit is in its description)."""


class UnsupportedMediaType(CpaError, slug="unsupported-media-type", status=415):
    """Unsupported media type."""


def on_outage(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    """503 for a database outage, counted (logged once per outage), without a traceback."""
    OUTAGE.refuse(error)
    headers = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
    if request.url.path.startswith(OAUTH_PREFIX):  # RFC 6749 §5.2 / §4.1.2.1 error body
        body = {
            "error": "temporarily_unavailable",
            "error_description": "the service is unavailable for a moment: retry shortly",
        }
        return Response(
            content=msgspec.json.encode(body),
            status_code=503,
            media_type="application/json",
            headers=headers,
        )
    return problem_response(DatabaseDown().to_problem(request.url.path), headers)


def _refused_by_database(error: Exception) -> CpaError | None:
    """The operating error a database refusal of the request's data stands for, if any."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return refusal(error)
    unstored = unstorable(error)
    if unstored is not None:
        return unstored
    if isinstance(error, RecursionError) and "deserializing" in str(error):
        return TooDeep("nested deeper than the decoder accepts")
    return None


def on_internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    if is_outage(error):
        return on_outage(request, error)
    refused = _refused_by_database(error)
    if refused is not None:
        return on_cpa_error(request, refused)
    log.error("request_failed", exc_info=error)
    return problem_response(
        _generic(
            500, "Internal error", "the server could not answer; it was logged", request.url.path
        )
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    CpaError: on_cpa_error,
    ValidationException: on_validation,
    HTTPException: on_http_error,
    Exception: on_internal_error,
}
