"""Linked services: keep the catalogue; link a service to a person, or remove the link."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import structlog

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.errors import InvalidInput
from cpa.linked_services.errors import ServiceLinkNotFound, ServiceNotFound
from cpa.linked_services.models import LinkedService, LinkedServiceView
from cpa.provenance import SYSTEM, Provenance

log = structlog.get_logger(__name__)

SERVICE_ID_LENGTH_MAX = 64

DEMO_CATALOGUE = [
    LinkedService(id="bilan-cibc", name="Bilan de compétences (CIBC)",
                  category="skills_assessment", url="https://www.cibc.example/bilan"),
    LinkedService(id="cep-apec", name="Conseil en évolution professionnelle (Apec)",
                  category="career_advice", url="https://www.apec.example/cep"),
    LinkedService(id="vae-france", name="France VAE", category="vae",
                  url="https://vae.example.gouv.fr"),
    LinkedService(id="coffre-paie", name="Coffre-fort bulletins de paie",
                  category="payslip_safe", url="https://coffre.example/paie"),
    LinkedService(id="france-travail", name="France Travail — offres", category="job_search",
                  url="https://www.francetravail.example/offres"),
]  # fmt: skip


async def register_service(db: Connection, service: LinkedService) -> LinkedService:
    """Add a service to the catalogue (or update it)."""
    if not 0 < len(service.id) <= SERVICE_ID_LENGTH_MAX or not service.url.startswith("https://"):
        raise InvalidInput("a service has an id of 1 to 64 characters and an https URL")
    with domain_errors():
        await db.execute(
            sql("upsert_linked_service"),
            service.id,
            service.name,
            service.category,
            service.provider_client_id,
            service.url,
        )
    return service


async def list_services(db: Connection) -> list[LinkedService]:
    rows = await db.fetch(sql("list_linked_services"))
    return [from_row(LinkedService, row) for row in rows]


async def link_service(
    db: Connection,
    person_id: UUID,
    service_id: str,
    *,
    now: dt.datetime,
    provenance: Provenance = SYSTEM,
) -> LinkedServiceView:
    """A consenting partner links a catalogue service to the person's account."""
    async with db.transaction():
        with domain_errors():
            await db.fetchval(sql("insert_service_link"), person_id, service_id,
                              provenance.client_id, now)  # fmt: skip
    log.info("service_linked", service_id=service_id)
    for link in await list_links(db, person_id):
        if link.id == service_id:
            return link
    raise ServiceNotFound()  # pragma: no cover - the link was just written


async def unlink_service(db: Connection, person_id: UUID, service_id: str) -> None:
    """The person removes a link."""
    if await db.fetchval(sql("delete_service_link"), person_id, service_id) is None:
        raise ServiceLinkNotFound()
    log.info("service_unlinked", service_id=service_id)


async def list_links(db: Connection, person_id: UUID) -> list[LinkedServiceView]:
    rows = await db.fetch(sql("list_service_links"), person_id)
    return [from_row(LinkedServiceView, row) for row in rows]


async def load_catalogue(db: Connection) -> None:
    for service in DEMO_CATALOGUE:
        await register_service(db, service)
