"""Linked services: catalogue entries and per-person links."""

from __future__ import annotations

from typing import Literal

import msgspec

from cpa.ledger.models import LinkedServiceView
from cpa.text import Identifier

ServiceCategory = Literal[
    "skills_assessment",  # bilan de compétences
    "career_advice",  # conseil en évolution professionnelle (CEP)
    "vae",  # validation des acquis de l'expérience
    "payslip_safe",  # coffre-fort numérique des bulletins de paie
    "job_search",
    "training",
    "other",
]


class LinkedService(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    category: ServiceCategory
    url: str
    provider_client_id: str | None = None


class NewLink(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    service_id: Identifier


__all__ = ["LinkedService", "LinkedServiceView", "NewLink", "ServiceCategory"]
