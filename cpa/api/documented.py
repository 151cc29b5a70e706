"""What the OpenAPI document says of a guarded route beyond its schemas: the scopes and client
kinds its guard requires (from the route's ``requires()`` opt), and the problems it answers
(RFC 9457 ``application/problem+json``, each status with its ``type`` slugs)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from cpa.api.problems import PROBLEM_MEDIA_TYPE
from cpa.auth.errors import InsufficientScope, RateLimited, Unauthorized, WrongClientKind
from cpa.errors import PROBLEM_TYPE_PREFIX, CpaError, InvalidInput

_GUARD: tuple[type[CpaError], ...] = (Unauthorized, InsufficientScope, WrongClientKind, RateLimited)


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem as ``cpa.api.problems`` answers every refusal; some carry more
    members (``state``, ``allowed_actions``…)."""

    type: str
    """``urn:cpa:problem:<slug>``, stable."""
    title: str
    status: int
    detail: str
    instance: str
    """The request's path: every HTTP answer names it."""
    errors: list[dict[str, str]] | None = None
    """Input refusals: each field at fault and why."""


def guarded(opt: dict[str, Any], description: str = "") -> str:
    """``description`` followed by what the guard requires of the token."""
    declared = next(iter(opt.values()))
    scopes = ", ".join(f"`{s}`" for s in sorted(declared["scopes"])) or "none"
    who = "a person's consent token" if declared["person"] else "the client's own token"
    kinds = declared["kinds"]
    by = f" of a {' or '.join(kinds)} client" if kinds else ""
    return f"{description}\n\nRequires {who}{by}; scopes: {scopes}.".strip()


def problems(*errors: type[CpaError]) -> dict[int, ResponseSpec]:
    """The route's problem responses: the guard's, invalid input, and ``errors``."""
    slugs: dict[int, list[str]] = {}
    answered: tuple[type[CpaError], ...] = (*_GUARD, InvalidInput, *errors)
    for error in answered:
        slugs.setdefault(error.status, []).append(PROBLEM_TYPE_PREFIX + error.slug)
    return {
        status: ResponseSpec(
            Problem,
            description="Problem: " + ", ".join(f"`{slug}`" for slug in names),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status, names in sorted(slugs.items())
    }


def doc(opt: dict[str, Any], *errors: type[CpaError], description: str = "") -> dict[str, Any]:
    """A guarded route's ``opt``, its description with the guard's requirements and its problem
    responses: ``@post("/", operation_id=…, **doc(requires("x"), NotFound))``."""
    return {"opt": opt, "description": guarded(opt, description), "responses": problems(*errors)}
