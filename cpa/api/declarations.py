"""Declarations in, for operator clients (``declarations:write``, client credentials).

A batch is NDJSON (``application/x-ndjson``, one line per declaration) or a JSON array
(``application/json``), at most ``BATCH_LINES_MAX`` lines and ``DECLARATION_BODY_MAX_BYTES``.
Each line is validated and written on its own (all-or-nothing per line) and answered in
``lines`` with its index: accepted with its id and revision, or rejected with an RFC 9457
problem. The answer is 200 whenever the batch itself could be read, even when every line was
rejected; a body that is not a batch is a problem as a whole. Each person whose data a batch
changed gets one line in their access journal, in the batch's transaction.

A line names its person by ``nir``, what operators know (or by cpa's ``person_id``, exactly one
of the two): an invalid NIR, or one nobody is registered with, refuses that line alone. NIRs
are looked up, never stored: the line is kept with the person's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation

from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.api.problems import UnsupportedMediaType
from cpa.api.writes import IdempotencyKey, run_once
from cpa.auth.access_log import record_access
from cpa.auth.guard import requires
from cpa.auth.openapi import json_body, operation
from cpa.db.database import Connection
from cpa.declarations import (
    BATCH_LINES_MAX,
    ActivityDeclaration,
    BatchResult,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
    decide_engagements,
    declare_activities,
    declare_engagements,
    declare_exposures,
    split_batch,
)
from cpa.declarations.errors import BatchTooLarge, BatchUnreadable, ConcurrentDeclaration
from cpa.idempotency.errors import IdempotencyConflict
from cpa.persons import NirVault
from cpa.provenance import Provenance

DECLARATION_BODY_MAX_BYTES = 2 * 1024 * 1024
NDJSON = "application/x-ndjson"
_OPERATOR = requires("declarations:write", person=False, kinds=("operator",))

Declare = Callable[
    [Connection, Sequence[bytes], dt.datetime, Provenance, NirVault, set[UUID]],
    Awaitable[BatchResult],
]


def _is_ndjson(request: Request[Any, Any, Any]) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in (NDJSON, "application/ndjson", "application/jsonl"):
        return True
    if media_type == "application/json":
        return False
    raise UnsupportedMediaType(detail=f"send the batch as {NDJSON} or an application/json array")


async def _run(call: Call, key: str | None, kind: str, declare: Declare) -> BatchResult:
    ndjson = _is_ndjson(call.request)
    body = await call.request.body()
    lines = split_batch(body, ndjson=ndjson)
    now = dt.datetime.now(dt.UTC)
    route = f"/v1/declarations/{kind}"
    vault, principal = call.vault, call.principal

    async def work(db: Connection, by: Provenance) -> BatchResult:
        touched: set[UUID] = set()
        result = await declare(db, lines, now, by, vault, touched)
        for person_id in sorted(touched):
            await record_access(db, principal, route=route, action="change", person_id=person_id)
        return result

    done = await run_once(
        call,
        key,
        operation=f"declare {kind}",
        asked=hashlib.sha256(bytes(ndjson) + body).hexdigest(),
        now=now,
        route=None,  # one line per person the batch changed, written by work
        work=work,
        result_type=BatchResult,
    )
    return done.result


def _declaring(declare_lines: Callable[..., Awaitable[BatchResult]]) -> Declare:
    """A batch of declarations as the service writes them, dated the day of the request."""

    async def declare(
        db: Connection,
        lines: Sequence[bytes],
        now: dt.datetime,
        by: Provenance,
        vault: NirVault,
        touched: set[UUID],
    ) -> BatchResult:
        return await declare_lines(
            db, lines, today=now.date(), provenance=by, vault=vault, touched=touched
        )

    return declare


def _batch_body(line: type[msgspec.Struct]) -> type[Operation]:
    """The batch as the spec shows it: a JSON array of ``line`` (NDJSON: the same lines)."""
    body, components = json_body(
        Annotated[list[line], msgspec.Meta(min_length=1, max_length=BATCH_LINES_MAX)],  # type: ignore[valid-type]
        description=(
            f"At most {BATCH_LINES_MAX} lines and {DECLARATION_BODY_MAX_BYTES} bytes: a JSON "
            f"array, or the same lines as {NDJSON} (one JSON object per line)."
        ),
    )
    return operation(body=body, components=components)


_BATCH_PROBLEMS = (
    UnsupportedMediaType,
    BatchUnreadable,
    BatchTooLarge,
    IdempotencyConflict,
    ConcurrentDeclaration,
)


def _batch_route(
    name: str,
    kind: str,
    declare: Declare,
    *,
    line: type[msgspec.Struct],
    operation_id: str,
    summary: str,
    description: str,
) -> HTTPRouteHandler:
    """One ``POST /v1/declarations/<kind>`` route: its handler runs ``declare`` on the batch.

    The four batch routes differ only by path, service function and documentation; the
    handler is written once here and each route is one call in the controller.
    """

    async def handler(
        self: Controller, call: Caller, idempotency_key: IdempotencyKey = None
    ) -> BatchResult:
        return await _run(call, idempotency_key, kind, declare)

    # Named as a method of the controller: Litestar orders a controller's routes, and so the
    # spec, by their handlers' qualified names.
    handler.__name__ = name
    handler.__qualname__ = f"DeclarationController.{name}"
    return post(
        f"/{kind}",
        operation_id=operation_id,
        summary=summary,
        request_max_body_size=DECLARATION_BODY_MAX_BYTES,
        status_code=200,
        **doc(
            _OPERATOR,
            *_BATCH_PROBLEMS,
            description=description,
            operation_class=_batch_body(line),
        ),
    )(handler)


class DeclarationController(Controller):
    path = "/v1/declarations"
    tags = ("declarations",)

    activities = _batch_route(
        "activities",
        "activities",
        _declaring(declare_activities),
        line=ActivityDeclaration,
        operation_id="declareActivities",
        summary="Yearly activities: employee hours, independent months, ESAT (per line)",
        description=(
            "Lines: {nir (or person_id), year, activities: [{kind, worked_centihours, "
            "reference_centihours, months_active}], low_qualified, disability}. A new line "
            "for the same person and year is a correction (next revision)."
        ),
    )
    exposures = _batch_route(
        "exposures",
        "exposures",
        _declaring(declare_exposures),
        line=ExposureDeclaration,
        operation_id="declareExposures",
        summary="C2P exposures, one contract and year per line",
        description=(
            "Lines: {nir (or person_id), year, contract_ref, contract_start, contract_end, "
            "factors: {factor: intensity}}. A new line for the same contract and year is a "
            "correction."
        ),
    )
    engagements = _batch_route(
        "engagements",
        "engagements",
        _declaring(declare_engagements),
        line=EngagementDeclaration,
        operation_id="declareEngagements",
        summary="CEC engagements as declared (credited once the organisation validates them)",
        description=(
            "Lines: {nir (or person_id), year, organisation, kind, hours, "
            "hours_in_one_organisation, days, months, years, interventions, role}; which "
            "amounts count depends on the kind. Answers each engagement's id, for the decision."
        ),
    )
    decisions = _batch_route(
        "decisions",
        "engagements/decisions",
        lambda db, lines, now, by, _vault, touched: decide_engagements(
            db, lines, now=now, provenance=by, touched=touched
        ),
        line=EngagementDecision,
        operation_id="decideEngagements",
        summary="The organisation validates or refuses declared CEC engagements (per line)",
        description="Lines: {engagement_id, decision: validated | refused}.",
    )
