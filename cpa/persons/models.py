"""Wire and domain Structs of the persons registry."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec


class NewPerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    nir: str
    birth_date: dt.date
    death_on: dt.date | None = None
    full_rate_retirement_on: dt.date | None = None


class Person(msgspec.Struct, kw_only=True):
    """A registered person; the NIR is not part of it (it is fetched only when needed)."""

    id: UUID
    birth_date: dt.date
    death_on: dt.date | None
    full_rate_retirement_on: dt.date | None
    created_at: dt.datetime
