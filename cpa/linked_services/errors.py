"""Operating errors of linked services, and the constraints of their tables."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, CpaError, InvalidInput, NotFound


class ServiceNotFound(CpaError, slug="service-not-found", status=404):
    """No such service in the catalogue."""


class ServiceAlreadyLinked(Conflict, slug="service-already-linked"):
    """This service is already linked to the account."""


class ServiceLinkNotFound(NotFound, slug="service-link-not-found"):
    """This service is not linked to the account."""


register(
    {
        "service_links_pkey": ServiceAlreadyLinked,
        "service_links_service_id_fkey": ServiceNotFound,
        "linked_services_category_known": InvalidInput,
    }
)

__all__ = ["ServiceAlreadyLinked", "ServiceLinkNotFound", "ServiceNotFound"]
