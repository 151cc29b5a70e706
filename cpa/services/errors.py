"""Operating errors of linked services (the constraint-mapped ones live with the mapping)."""

from __future__ import annotations

from cpa.errors import NotFound
from cpa.ledger.constraints import ServiceAlreadyLinked, ServiceNotFound


class ServiceLinkNotFound(NotFound):
    """This service is not linked to the account."""

    slug = "service-link-not-found"


__all__ = ["ServiceAlreadyLinked", "ServiceLinkNotFound", "ServiceNotFound"]
