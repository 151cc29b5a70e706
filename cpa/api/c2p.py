"""C2P uses on the person's request (``c2p:convert``): training, reconversion, part time,
retirement (CT L4163-7 ff.).

The values are those in force on the day of the request and the points reserved for training
are applied by ``cpa.rules`` (through ``cpa.ledger.convert_c2p``); a training use credits an
abondement earmarked to the training. ``Idempotency-Key`` as on every POST; the use is written
to the person's access journal in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from cpa.api.writes import IdempotencyKey, provenance, run_once, strictly
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.ledger import C2pConversionRequest, C2pConversionResult, convert_c2p
from cpa.rules import C2pUse
from cpa.text import Reference


class ConvertPoints(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    use: C2pUse
    points: int
    """C2P points to use (> 0; part time and retirement by tranches of 10)."""
    training_reference: Reference | None = None
    """Required for a training use: the training the abondement is earmarked to."""
    reduction_basis_points: int = 5000
    """Part time only: the working-time reduction (5000 = half time)."""


class C2pController(Controller):
    path = "/v1/me/c2p"
    tags = ("c2p",)

    @post(
        "/conversions",
        operation_id="convertMyC2pPoints",
        summary="Use C2P points for training, reconversion, part time or retirement",
        opt=requires("c2p:convert"),
        status_code=201,
    )
    async def convert(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        data: JSONBody[ConvertPoints],
        idempotency_key: IdempotencyKey = None,
    ) -> C2pConversionResult:
        assert principal.person_id is not None
        person_id = principal.person_id
        data = await strictly(request, data)
        now = dt.datetime.now(dt.UTC)
        asked = C2pConversionRequest(
            use=data.use,
            points=data.points,
            training_reference=data.training_reference,
            reduction_basis_points=data.reduction_basis_points,
        )
        by = provenance(principal, idempotency_key)
        return await run_once(
            request,
            principal,
            idempotency_key,
            operation=f"convertC2p {person_id}",
            asked=data,
            now=now,
            route="/v1/me/c2p/conversions",
            work=lambda db: convert_c2p(db, person_id, asked, today=now.date(), provenance=by),
            result_type=C2pConversionResult,
        )
