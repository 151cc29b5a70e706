"""Linked services (CT L5151-6): the catalogue, and the links on a person's account.

Any partner with a valid token reads the catalogue (no person's data). A partner holding the
person's consent with ``services:write`` links a service; the person removes a link through
their portal; ``services:read`` lists them. Reads and changes of links go to the person's
access journal.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from cpa.api.call import Caller
from cpa.api.documented import doc
from cpa.api.writes import REPLAYED_DOC, IdempotencyKey, answer, run_once
from cpa.auth.access_log import record_access
from cpa.auth.guard import requires
from cpa.idempotency.errors import IdempotencyConflict
from cpa.linked_services import LinkedService, NewLink, link_service, list_links, list_services
from cpa.linked_services import unlink_service as remove_link
from cpa.linked_services.errors import (
    ServiceAlreadyLinked,
    ServiceLinkNotFound,
    ServiceNotFound,
)
from cpa.linked_services.models import LinkedServiceView


class Catalogue(msgspec.Struct, kw_only=True):
    services: list[LinkedService]


class Links(msgspec.Struct, kw_only=True):
    links: list[LinkedServiceView]


class LinkRemoved(msgspec.Struct, kw_only=True):
    service_id: str
    removed_at: dt.datetime


class ServiceCatalogueController(Controller):
    path = "/v1/services"
    tags = ("services",)

    @get(
        "/",
        operation_id="listServices",
        summary="The catalogue of services a person's account can be linked to",
        **doc(requires(person=False)),
    )
    async def catalogue(self, call: Caller) -> Catalogue:
        async with call.db.acquire() as db:
            return Catalogue(services=await list_services(db))


class ServiceLinkController(Controller):
    path = "/v1/me/services/links"
    tags = ("services",)

    @get(
        "/",
        operation_id="listMyServiceLinks",
        summary="The services linked to the person's account",
        **doc(requires("services:read")),
    )
    async def links(self, call: Caller) -> Links:
        async with call.transaction() as db:
            found = await list_links(db, call.person_id)
            await call.journal_read(db, "/v1/me/services/links")
        return Links(links=found)

    @post(
        "/",
        operation_id="linkMyService",
        summary="Link a catalogue service to the person's account (consenting partner)",
        **doc(
            requires("services:write"), ServiceNotFound, ServiceAlreadyLinked, IdempotencyConflict
        ),
        status_code=201,
        response_headers=[REPLAYED_DOC],
    )
    async def link(
        self, call: Caller, data: JSONBody[NewLink], idempotency_key: IdempotencyKey = None
    ) -> Response[LinkedServiceView]:
        person_id = call.person_id
        now = dt.datetime.now(dt.UTC)
        done = await run_once(
            call,
            idempotency_key,
            operation=f"linkService {person_id}",
            asked=data,
            now=now,
            route="/v1/me/services/links",
            work=lambda db, by: link_service(
                db, person_id, data.service_id, now=now, provenance=by
            ),
            result_type=LinkedServiceView,
        )
        return answer(done, status=201)

    @delete(
        "/{service_id:str}",
        operation_id="unlinkMyService",
        summary="The person removes a linked service (through their portal)",
        **doc(requires("services:write", kinds=("portal",)), ServiceLinkNotFound),
        status_code=200,
    )
    async def unlink(self, call: Caller, service_id: FromPath[str]) -> LinkRemoved:
        async with call.transaction() as db:
            await remove_link(db, call.person_id, service_id)
            route = "/v1/me/services/links/{id}"
            await record_access(db, call.principal, route=route, action="change")
        return LinkRemoved(service_id=service_id, removed_at=dt.datetime.now(dt.UTC))
