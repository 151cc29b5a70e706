"""C2P uses on the person's request (``c2p:convert``): training, reconversion, part time,
retirement (CT L4163-7 ff.).

The values are those in force on the day of the request and the points reserved for training
are applied by ``cpa.rules`` (through ``cpa.ledger.convert_c2p``); a training use credits an
abondement earmarked to the training. ``Idempotency-Key`` as on every POST; the use is written
to the person's access journal in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

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
from cpa.rules.c2p import PART_TIME_REDUCTION_MAX_BP, PART_TIME_REDUCTION_MIN_BP
from cpa.text import Reference

# The limits the rules check, stated in the spec only (``extra_json_schema``, whose "extra"
# Litestar reads into the field's schema): the rules refuse them with their own problems,
# which the wire decoder would otherwise pre-empt.
Points = Annotated[
    int,
    msgspec.Meta(
        extra_json_schema={"extra": {"minimum": 1}},
        description="C2P points to use (at least 1; part time and retirement by tranches of 10).",
    ),
]
ReductionBasisPoints = Annotated[
    int,
    msgspec.Meta(
        extra_json_schema={
            "extra": {"minimum": PART_TIME_REDUCTION_MIN_BP, "maximum": PART_TIME_REDUCTION_MAX_BP}
        },
        description="Part time only: the working-time reduction (5000 = half time).",
    ),
]


class ConvertPoints(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    use: C2pUse
    points: Points
    training_reference: Reference | None = None
    """Required for a training use: the training the abondement is earmarked to."""
    reduction_basis_points: ReductionBasisPoints = 5000


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
