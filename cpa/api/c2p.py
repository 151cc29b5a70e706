"""C2P uses on the person's request (``c2p:convert``): training, reconversion, part time,
retirement (CT L4163-7 ff.).

The values are those in force on the day of the request and the points reserved for training
are applied by ``cpa.rules`` (through ``cpa.ledger.convert_c2p``); a training use credits an
abondement earmarked to the training. ``Idempotency-Key`` as on every POST; the use is written
to the person's access journal in the same transaction.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, post
from litestar.params import JSONBody

from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.api.writes import IdempotencyKey, run_once
from cpa.auth.guard import requires
from cpa.idempotency.errors import IdempotencyConflict
from cpa.ledger import C2pConversionRequest, C2pConversionResult, convert_c2p
from cpa.ledger.errors import InsufficientRights, InvalidAmount
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
        **doc(requires("c2p:convert"), InsufficientRights, InvalidAmount, IdempotencyConflict),
        status_code=201,
    )
    async def convert(
        self, call: Caller, data: JSONBody[ConvertPoints], idempotency_key: IdempotencyKey = None
    ) -> C2pConversionResult:
        person_id = call.person_id
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        asked = C2pConversionRequest(**msgspec.structs.asdict(data))  # the same fields
        by = call.provenance(idempotency_key)
        return await run_once(
            call,
            idempotency_key,
            operation=f"convertC2p {person_id}",
            asked=data,
            now=now,
            route="/v1/me/c2p/conversions",
            work=lambda db: convert_c2p(db, person_id, asked, today=now.date(), provenance=by),
            result_type=C2pConversionResult,
        )
