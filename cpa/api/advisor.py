"""Advisor routes: look a person up for a declared purpose, then read with the reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from cpa.auth.access_log import read_access_log
from cpa.auth.advisor import Lookup, look_up_person, ref_expiry, resolve_person_ref
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.auth.state import AuthState
from cpa.db.database import transaction
from cpa.text import Identifier


class LookupRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    nir: str
    advisor_id: Identifier
    """The advisor's own identifier, kept in the person's access journal (1 to 64 characters)."""
    purpose: Identifier


class AdvisorPerson(msgspec.Struct, kw_only=True):
    advisor_id: str
    purpose: str
    expires_at: dt.datetime


_ADVISOR = requires("advisor:read", person=False, kinds=("advisor_tool",))


class AdvisorController(Controller):
    path = "/v1/advisor"
    tags = ("advisor",)

    @post(
        "/lookups",
        operation_id="createAdvisorLookup",
        summary="A short-lived reference to a person, for a declared purpose",
        opt=_ADVISOR,
    )
    async def lookup(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        data: JSONBody[LookupRequest],
    ) -> Lookup:
        state: AuthState = request.app.state.auth
        async with request.app.state.db.acquire() as db:
            return await look_up_person(
                db,
                request.app.state.vault,
                state.settings,
                principal,
                nir=data.nir,
                advisor_id=data.advisor_id,
                purpose=data.purpose,
            )

    @get(
        "/persons/{ref:str}",
        operation_id="getAdvisorPerson",
        summary="What a person reference grants (journaled)",
        opt=_ADVISOR,
    )
    async def person(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        ref: FromPath[str],
    ) -> AdvisorPerson:
        async with transaction(request.app.state.db) as db:
            advisor = await resolve_person_ref(db, principal, ref)
            expires_at = await ref_expiry(db, principal, ref)
            await read_access_log(request).record(db, advisor, route="/v1/advisor/persons/{ref}")
        assert advisor.advisor_id is not None and advisor.purpose is not None
        return AdvisorPerson(
            advisor_id=advisor.advisor_id, purpose=advisor.purpose, expires_at=expires_at
        )
