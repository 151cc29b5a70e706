"""Advisor routes: look a person up for a declared purpose, then read with the reference."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.auth.advisor import PURPOSES, Lookup, look_up_person, look_up_ref
from cpa.auth.errors import PersonRefNotFound, UnknownPurpose
from cpa.auth.guard import requires
from cpa.persons.errors import InvalidNir, PersonNotFound
from cpa.text import Identifier


class LookupRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    nir: str
    advisor_id: Identifier
    """The advisor's own identifier, kept in the person's access journal (1 to 64 characters)."""
    purpose: Annotated[
        Identifier,
        msgspec.Meta(
            # The spec states them (Litestar reads "extra" into the field's schema); the lookup
            # refuses any other purpose with `unknown-purpose`.
            extra_json_schema={"extra": {"enum": list(PURPOSES)}},
            description="Why the advisor looks the person up (kept in their access journal).",
        ),
    ]


class AdvisorPerson(msgspec.Struct, kw_only=True):
    advisor_id: str
    purpose: str
    expires_at: dt.datetime


ADVISOR = requires("advisor:read", person=False, kinds=("advisor_tool",))
"""What every advisor route requires: an advisor tool's own token (no person's consent)."""


class AdvisorController(Controller):
    path = "/v1/advisor"
    tags = ("advisor",)

    @post(
        "/lookups",
        operation_id="createAdvisorLookup",
        summary="A short-lived reference to a person, for a declared purpose",
        **doc(ADVISOR, PersonNotFound, UnknownPurpose, InvalidNir),
    )
    async def lookup(self, call: Caller, data: JSONBody[LookupRequest]) -> Lookup:
        async with call.db.acquire() as db:
            return await look_up_person(
                db,
                call.vault,
                call.auth.settings,
                call.principal,
                nir=data.nir,
                advisor_id=data.advisor_id,
                purpose=data.purpose,
            )

    @get(
        "/persons/{ref:str}",
        operation_id="getAdvisorPerson",
        summary="What a person reference grants (journaled)",
        **doc(ADVISOR, PersonRefNotFound),
    )
    async def person(self, call: Caller, ref: FromPath[str]) -> AdvisorPerson:
        async with call.transaction() as db:
            advisor, expires_at = await look_up_ref(db, call.principal, ref)
            await call.journal_read(db, "/v1/advisor/persons/{ref}", reader=advisor)
        assert advisor.advisor_id is not None and advisor.purpose is not None
        return AdvisorPerson(
            advisor_id=advisor.advisor_id, purpose=advisor.purpose, expires_at=expires_at
        )
