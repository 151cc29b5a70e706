"""Linked services: the catalogue of partner services (bilan de compétences, CEP, VAE,
payslip safe, job search…) and the links a consenting partner creates on a person's account
(CT L5151-6: the CPA platform gives access to these services); the person removes them."""

from cpa.linked_services.errors import ServiceAlreadyLinked, ServiceLinkNotFound, ServiceNotFound
from cpa.linked_services.models import LinkedService, NewLink, ServiceCategory
from cpa.linked_services.service import (
    DEMO_CATALOGUE,
    link_service,
    list_links,
    list_services,
    load_catalogue,
    register_service,
    unlink_service,
)

__all__ = [
    "DEMO_CATALOGUE",
    "LinkedService",
    "NewLink",
    "ServiceAlreadyLinked",
    "ServiceCategory",
    "ServiceLinkNotFound",
    "ServiceNotFound",
    "link_service",
    "list_links",
    "list_services",
    "load_catalogue",
    "register_service",
    "unlink_service",
]
