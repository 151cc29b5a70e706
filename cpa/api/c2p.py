"""C2P uses on the person's request (``c2p:convert``): training, reconversion, part time,
retirement (CT L4163-7 ff.).

The values are those in force on the day of the request and the points reserved for training
are applied by ``cpa.rules`` (through ``cpa.ledger.convert_c2p``); a training use credits an
abondement earmarked to the training. The use moves rights: it requires an
``Idempotency-Key`` (``cpa.api.writes``), answers 201 with the ``Location`` of the recorded
use, and is written to the person's access journal in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody

from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.api.writes import MoneyKey, answer, money_write, run_once
from cpa.auth.guard import requires
from cpa.ledger import (
    C2pConversionRequest,
    C2pConversionResult,
    ConversionNotFound,
    convert_c2p,
    get_c2p_conversion,
)
from cpa.ledger.errors import InsufficientRights, InvalidAmount
from cpa.ledger.models import C2pConversionRecord
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
CONVERSIONS_PATH = "/v1/me/c2p/conversions"


class ConvertPoints(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    use: C2pUse
    points: Points
    training_reference: Reference | None = None
    """Required for a training use: the training the abondement is earmarked to."""
    reduction_basis_points: ReductionBasisPoints = 5000


_CONVERTER = requires("c2p:convert")


class C2pController(Controller):
    path = "/v1/me/c2p"
    tags = ("c2p",)

    @post(
        "/conversions",
        operation_id="convertMyC2pPoints",
        summary="Use C2P points for training, reconversion, part time or retirement",
        **money_write(_CONVERTER, InsufficientRights, InvalidAmount, created=True),
    )
    async def convert(
        self,
        call: Caller,
        data: JSONBody[ConvertPoints],
        key: MoneyKey,
    ) -> Response[C2pConversionResult]:
        person_id = call.person_id
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        asked = C2pConversionRequest(**msgspec.structs.asdict(data))  # the same fields
        done = await run_once(
            call,
            key,
            operation=f"convertC2p {person_id}",
            asked=data,
            now=now,
            route=CONVERSIONS_PATH,
            work=lambda db, by: convert_c2p(db, person_id, asked, today=now.date(), provenance=by),
            result_type=C2pConversionResult,
        )
        return answer(done, status=201, location=f"{CONVERSIONS_PATH}/{done.result.id}")

    @get(
        "/conversions/{conversion_id:uuid}",
        operation_id="getMyC2pConversion",
        summary="A use of the person's C2P points, as recorded",
        **doc(_CONVERTER, ConversionNotFound),
    )
    async def conversion(self, call: Caller, conversion_id: FromPath[UUID]) -> C2pConversionRecord:
        async with call.transaction() as db:
            found = await get_c2p_conversion(db, call.person_id, conversion_id)
            await call.journal_read(db, "/v1/me/c2p/conversions/{id}")
        return found
