"""Linked services: catalogue entries and per-person links."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

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


class LinkedServiceView(msgspec.Struct, frozen=True, kw_only=True):
    """A person's link as shown: in the account read and the links' own routes."""

    id: str
    name: str
    category: str
    url: str
    linked_at: dt.datetime


class NewLink(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    service_id: Identifier


__all__ = ["LinkedService", "LinkedServiceView", "NewLink", "ServiceCategory"]
